mod jwt;
mod sim;
