mod escapes;
mod faults;
mod fuzz;
mod input;
mod secrets;
mod soak;
mod tls;
