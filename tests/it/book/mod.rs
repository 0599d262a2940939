mod cases;
mod fixture;
mod props;
