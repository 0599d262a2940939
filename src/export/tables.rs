//! The three Parquet tables of `cbbook export` (docs/export.md): their schemas, and writers that
//! gather rows into Arrow batches and stream them to the file row group by row group.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, Decimal128Builder, StringBuilder, TimestampMillisecondBuilder,
    TimestampNanosecondBuilder, UInt16Builder, UInt32Builder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

/// Prices and sizes: `DECIMAL(38, 12)`. The book holds every value as a count of `10^-12` units
/// below `10^15` (src/book/fixed.rs), which covers every Coinbase product exactly; 38 digits
/// (the widest `Decimal128`) leave room for any trade's numbers too.
pub const DECIMAL_PRECISION: u8 = 38;
pub const DECIMAL_SCALE: i8 = 12;

/// Rows per row group: large enough for efficient scans of big files, small enough that the
/// group being written (held in memory, encoded and compressed) stays in the tens of MB.
pub const ROW_GROUP_ROWS: usize = 1 << 20;

/// Rows gathered before they are handed to the Parquet writer as one Arrow batch.
const BATCH_ROWS: usize = 64 << 10;

fn utc(unit: TimeUnit) -> DataType {
    DataType::Timestamp(unit, Some("UTC".into()))
}

fn decimal() -> DataType {
    DataType::Decimal128(DECIMAL_PRECISION, DECIMAL_SCALE)
}

pub fn levels_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("recv_time", utc(TimeUnit::Millisecond), false),
        Field::new("exchange_time", utc(TimeUnit::Nanosecond), true),
        Field::new("connection", DataType::UInt32, false),
        Field::new("sequence_num", DataType::UInt64, false),
        Field::new("product_id", DataType::Utf8, false),
        Field::new("event", DataType::Utf8, false),
        Field::new("side", DataType::Utf8, false),
        Field::new("price", decimal(), false),
        Field::new("size", decimal(), false),
    ]))
}

pub fn trades_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("trade_id", DataType::Utf8, false),
        Field::new("time", utc(TimeUnit::Millisecond), false),
        Field::new("recv_time", utc(TimeUnit::Millisecond), false),
        Field::new("product_id", DataType::Utf8, false),
        Field::new("price", decimal(), false),
        Field::new("size", decimal(), false),
        Field::new("side", DataType::Utf8, false),
        Field::new("aggressor", DataType::Utf8, false),
    ]))
}

pub fn top_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("time", utc(TimeUnit::Millisecond), false),
        Field::new("product_id", DataType::Utf8, false),
        Field::new("side", DataType::Utf8, false),
        Field::new("level", DataType::UInt16, false),
        Field::new("price", decimal(), false),
        Field::new("size", decimal(), false),
    ]))
}

/// Writing a table failed.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("cannot create {path}: {error}. Check the directory is writable")]
    Create {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot write {path}: {error}. Check the disk has space")]
    Write {
        path: PathBuf,
        error: parquet::errors::ParquetError,
    },
    #[error("cannot build a batch of {path}: {error}")]
    Batch { path: PathBuf, error: ArrowError },
    #[error("cannot move {from} to {to}: {error}")]
    Rename {
        from: PathBuf,
        to: PathBuf,
        error: std::io::Error,
    },
}

/// One table being written: to `NAME.parquet.partial`, renamed to `NAME.parquet` when complete,
/// so that a stopped export never leaves a file that looks whole.
pub struct Table<B: Rows> {
    schema: SchemaRef,
    path: PathBuf,
    partial: PathBuf,
    /// `None` once closed.
    writer: Option<ArrowWriter<File>>,
    rows: B,
    written: u64,
}

/// The column builders of one table.
pub trait Rows {
    fn len(&self) -> usize;
    fn finish(&mut self) -> Result<Vec<ArrayRef>, ArrowError>;
}

impl<B: Rows> Table<B> {
    pub fn create(path: &Path, schema: SchemaRef, rows: B) -> Result<Table<B>, TableError> {
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let file = File::create(&partial).map_err(|error| TableError::Create {
            path: partial.clone(),
            error,
        })?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_created_by(format!("cbbook {}", env!("CARGO_PKG_VERSION")))
            .build();
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|error| {
            TableError::Write {
                path: partial.clone(),
                error,
            }
        })?;
        Ok(Table {
            schema,
            path: path.to_owned(),
            partial,
            writer: Some(writer),
            rows,
            written: 0,
        })
    }

    /// The builders, to add a row to; call [`Table::row_added`] after.
    pub fn rows(&mut self) -> &mut B {
        &mut self.rows
    }

    /// Hands a full batch to the writer.
    pub fn row_added(&mut self) -> Result<(), TableError> {
        self.written += 1;
        if self.rows.len() >= BATCH_ROWS {
            self.write_batch()?;
        }
        Ok(())
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    fn write_batch(&mut self) -> Result<(), TableError> {
        if self.rows.len() == 0 {
            return Ok(());
        }
        let columns = self.rows.finish().map_err(|error| TableError::Batch {
            path: self.path.clone(),
            error,
        })?;
        let batch = RecordBatch::try_new(self.schema.clone(), columns).map_err(|error| {
            TableError::Batch {
                path: self.path.clone(),
                error,
            }
        })?;
        let Some(writer) = self.writer.as_mut() else {
            return Ok(());
        };
        writer.write(&batch).map_err(|error| TableError::Write {
            path: self.partial.clone(),
            error,
        })
    }

    /// Writes the rest and the footer, and gives the file its name.
    pub fn close(mut self) -> Result<u64, TableError> {
        self.write_batch()?;
        if let Some(writer) = self.writer.take() {
            writer.close().map_err(|error| TableError::Write {
                path: self.partial.clone(),
                error,
            })?;
        }
        std::fs::rename(&self.partial, &self.path).map_err(|error| TableError::Rename {
            from: self.partial.clone(),
            to: self.path.clone(),
            error,
        })?;
        Ok(self.written)
    }
}

/// A table not closed (the export stopped on an error) leaves no partial file behind.
impl<B: Rows> Drop for Table<B> {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

fn decimal_builder() -> Decimal128Builder {
    // The precision and scale are valid constants: this cannot fail.
    Decimal128Builder::new()
        .with_precision_and_scale(DECIMAL_PRECISION, DECIMAL_SCALE)
        .unwrap_or_default()
}

fn ms_builder() -> TimestampMillisecondBuilder {
    TimestampMillisecondBuilder::new().with_timezone("UTC")
}

fn finish_decimal(b: &mut Decimal128Builder) -> Result<ArrayRef, ArrowError> {
    Ok(Arc::new(b.finish().with_precision_and_scale(
        DECIMAL_PRECISION,
        DECIMAL_SCALE,
    )?))
}

/// `levels.parquet`'s columns.
pub struct LevelRows {
    pub recv_time: TimestampMillisecondBuilder,
    pub exchange_time: TimestampNanosecondBuilder,
    pub connection: UInt32Builder,
    pub sequence_num: UInt64Builder,
    pub product_id: StringBuilder,
    pub event: StringBuilder,
    pub side: StringBuilder,
    pub price: Decimal128Builder,
    pub size: Decimal128Builder,
}

impl LevelRows {
    pub fn new() -> LevelRows {
        LevelRows {
            recv_time: ms_builder(),
            exchange_time: TimestampNanosecondBuilder::new().with_timezone("UTC"),
            connection: UInt32Builder::new(),
            sequence_num: UInt64Builder::new(),
            product_id: StringBuilder::new(),
            event: StringBuilder::new(),
            side: StringBuilder::new(),
            price: decimal_builder(),
            size: decimal_builder(),
        }
    }
}

impl Rows for LevelRows {
    fn len(&self) -> usize {
        self.recv_time.len()
    }

    fn finish(&mut self) -> Result<Vec<ArrayRef>, ArrowError> {
        Ok(vec![
            Arc::new(self.recv_time.finish().with_timezone("UTC")),
            Arc::new(self.exchange_time.finish().with_timezone("UTC")),
            Arc::new(self.connection.finish()),
            Arc::new(self.sequence_num.finish()),
            Arc::new(self.product_id.finish()),
            Arc::new(self.event.finish()),
            Arc::new(self.side.finish()),
            finish_decimal(&mut self.price)?,
            finish_decimal(&mut self.size)?,
        ])
    }
}

/// `trades.parquet`'s columns.
pub struct TradeRows {
    pub trade_id: StringBuilder,
    pub time: TimestampMillisecondBuilder,
    pub recv_time: TimestampMillisecondBuilder,
    pub product_id: StringBuilder,
    pub price: Decimal128Builder,
    pub size: Decimal128Builder,
    pub side: StringBuilder,
    pub aggressor: StringBuilder,
}

impl TradeRows {
    pub fn new() -> TradeRows {
        TradeRows {
            trade_id: StringBuilder::new(),
            time: ms_builder(),
            recv_time: ms_builder(),
            product_id: StringBuilder::new(),
            price: decimal_builder(),
            size: decimal_builder(),
            side: StringBuilder::new(),
            aggressor: StringBuilder::new(),
        }
    }
}

impl Rows for TradeRows {
    fn len(&self) -> usize {
        self.time.len()
    }

    fn finish(&mut self) -> Result<Vec<ArrayRef>, ArrowError> {
        Ok(vec![
            Arc::new(self.trade_id.finish()),
            Arc::new(self.time.finish().with_timezone("UTC")),
            Arc::new(self.recv_time.finish().with_timezone("UTC")),
            Arc::new(self.product_id.finish()),
            finish_decimal(&mut self.price)?,
            finish_decimal(&mut self.size)?,
            Arc::new(self.side.finish()),
            Arc::new(self.aggressor.finish()),
        ])
    }
}

/// `top.parquet`'s columns.
pub struct TopRows {
    pub time: TimestampMillisecondBuilder,
    pub product_id: StringBuilder,
    pub side: StringBuilder,
    pub level: UInt16Builder,
    pub price: Decimal128Builder,
    pub size: Decimal128Builder,
}

impl TopRows {
    pub fn new() -> TopRows {
        TopRows {
            time: ms_builder(),
            product_id: StringBuilder::new(),
            side: StringBuilder::new(),
            level: UInt16Builder::new(),
            price: decimal_builder(),
            size: decimal_builder(),
        }
    }
}

impl Rows for TopRows {
    fn len(&self) -> usize {
        self.time.len()
    }

    fn finish(&mut self) -> Result<Vec<ArrayRef>, ArrowError> {
        Ok(vec![
            Arc::new(self.time.finish().with_timezone("UTC")),
            Arc::new(self.product_id.finish()),
            Arc::new(self.side.finish()),
            Arc::new(self.level.finish()),
            finish_decimal(&mut self.price)?,
            finish_decimal(&mut self.size)?,
        ])
    }
}
