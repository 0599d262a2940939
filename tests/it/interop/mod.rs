mod jwt;
mod parquet;
mod sim;
