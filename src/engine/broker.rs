pub struct Broker {}
