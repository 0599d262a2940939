mod escapes;
mod faults;
mod fuzz;
mod input;
mod recording;
mod secrets;
mod soak;
mod tls;
