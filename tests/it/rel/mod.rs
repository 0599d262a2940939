mod faults;
mod fuzz;
mod hostile;
mod input;
mod model;
mod secrets;
mod soak;
mod tls;
