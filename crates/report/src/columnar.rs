//! Parquet records (with the `parquet` feature): connections from `conns
//! --format parquet` and packets from `read --format parquet`, one file
//! or a Hive-partitioned directory (`date=YYYY-MM-DD/host=NAME/`), in the
//! schema docs/parquet.md lists.
//!
//! Types are chosen for the engines that read them (DuckDB, Spark,
//! Trino): signed integers only (Spark reads no unsigned 64-bit column),
//! timestamps in microseconds with time zone UTC (Spark reads no
//! nanosecond timestamps), durations in seconds as doubles, addresses and
//! enums as strings (dictionary-encoded in the file by the writer).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use tcpscope_track::{ConnSummary, Flags, Side, Ts, DIR_COUNTS};
use tcpscope_wire::tcp::flags;

use crate::conns::Batch;
use crate::pipeline::{Output, Packet};
use crate::words::utc_date;

/// What writing Parquet can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ParquetError {
    /// A file or directory could not be made or written.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// The Parquet writer failed.
    #[error("{0}: {1}")]
    Parquet(PathBuf, parquet::errors::ParquetError),
}

/// The Hive partition keys `--partition-by` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionKey {
    /// `date=YYYY-MM-DD`: the UTC day of the connection's first packet
    /// (of the packet, for packet records).
    Date,
    /// `host=NAME`: the capture's host (`__HIVE_DEFAULT_PARTITION__` when
    /// unknown, as Hive writes a null).
    Host,
}

impl PartitionKey {
    /// From its name.
    pub fn parse(s: &str) -> Option<PartitionKey> {
        match s {
            "date" => Some(PartitionKey::Date),
            "host" => Some(PartitionKey::Host),
            _ => None,
        }
    }
}

/// Where records go: one file, or a partitioned directory.
#[derive(Clone, Debug)]
pub enum Target {
    /// One Parquet file.
    File(PathBuf),
    /// `dir/key=value/.../part-NAME.parquet`, NAME the run's first input's
    /// file name, so that tasks writing one capture each into the same
    /// directory never collide.
    Partitioned {
        /// The directory.
        dir: PathBuf,
        /// The keys, outermost first.
        keys: Vec<PartitionKey>,
        /// The part files' NAME.
        part: String,
    },
}

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn micros(t: Ts) -> i64 {
    t.sec
        .saturating_mul(1_000_000)
        .saturating_add(t.nsec as i64 / 1000)
}

fn partition_path(keys: &[PartitionKey], date: &str, host: Option<&str>) -> PathBuf {
    let mut p = PathBuf::new();
    for k in keys {
        p.push(match k {
            PartitionKey::Date => format!("date={date}"),
            PartitionKey::Host => format!(
                "host={}",
                host.map_or("__HIVE_DEFAULT_PARTITION__".to_string(), escape)
            ),
        });
    }
    p
}

/// Hive's escaping of a partition value: `/`, `=`, `%` and the like as %XX.
fn escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || "-_.".contains(c) {
            out.push(c);
        } else {
            let mut b = [0u8; 4];
            for byte in c.encode_utf8(&mut b).bytes() {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    out
}

fn properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(128 * 1024))
        .set_created_by(format!("tcpscope {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Writes record batches to a target, opening a file per partition.
pub struct Sink {
    target: Target,
    writers: BTreeMap<PathBuf, ArrowWriter<File>>,
    schema: SchemaRef,
}

impl Sink {
    /// Records of `schema` (with every column; partitioned files leave out
    /// the partition keys' columns) into `target`.
    pub fn new(target: Target, schema: SchemaRef) -> Sink {
        Sink {
            target,
            writers: BTreeMap::new(),
            schema,
        }
    }

    /// The schema of the files: partition columns left out.
    fn file_schema(&self) -> SchemaRef {
        match &self.target {
            Target::File(_) => self.schema.clone(),
            Target::Partitioned { keys, .. } => {
                let fields: Vec<Field> = self
                    .schema
                    .fields()
                    .iter()
                    .filter(|f| !(keys.contains(&PartitionKey::Host) && f.name() == "host"))
                    .map(|f| f.as_ref().clone())
                    .collect();
                Arc::new(Schema::new(fields))
            }
        }
    }

    /// Write `batch`, all of whose rows fall in the partition of `date`
    /// and `host`.
    pub fn write(
        &mut self,
        batch: &RecordBatch,
        date: &str,
        host: Option<&str>,
    ) -> Result<(), ParquetError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let (path, batch) = match &self.target {
            Target::File(p) => (p.clone(), batch.clone()),
            Target::Partitioned { dir, keys, part } => {
                let sub = dir.join(partition_path(keys, date, host));
                let path = sub.join(format!("part-{part}.parquet"));
                let schema = self.file_schema();
                let columns: Vec<ArrayRef> = schema
                    .fields()
                    .iter()
                    .map(|f| batch.column_by_name(f.name()).cloned())
                    .collect::<Option<_>>()
                    .expect("file schema is a subset of the batch's");
                let b = RecordBatch::try_new(schema, columns)
                    .map_err(|e| ParquetError::Parquet(path.clone(), e.into()))?;
                (path, b)
            }
        };
        if !self.writers.contains_key(&path) {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .map_err(|e| ParquetError::Io(parent.to_path_buf(), e))?;
            }
            let file = File::create(&path).map_err(|e| ParquetError::Io(path.clone(), e))?;
            let w = ArrowWriter::try_new(file, self.file_schema(), Some(properties()))
                .map_err(|e| ParquetError::Parquet(path.clone(), e))?;
            self.writers.insert(path.clone(), w);
        }
        let w = self.writers.get_mut(&path).expect("inserted above");
        w.write(&batch)
            .map_err(|e| ParquetError::Parquet(path.clone(), e))
    }

    /// Close every file (a single-file target with no rows still gets its
    /// file, with the schema and no rows); returns the files written.
    pub fn close(mut self) -> Result<Vec<PathBuf>, ParquetError> {
        if let (Target::File(p), true) = (&self.target, self.writers.is_empty()) {
            let file = File::create(p).map_err(|e| ParquetError::Io(p.clone(), e))?;
            let w = ArrowWriter::try_new(file, self.file_schema(), Some(properties()))
                .map_err(|e| ParquetError::Parquet(p.clone(), e))?;
            self.writers.insert(p.clone(), w);
        }
        let mut done = Vec::new();
        for (path, w) in std::mem::take(&mut self.writers) {
            w.close()
                .map_err(|e| ParquetError::Parquet(path.clone(), e))?;
            done.push(path);
        }
        Ok(done)
    }
}

fn utf8(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

fn i64f(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Int64, nullable)
}

/// The schema of connection records.
pub fn conns_schema() -> SchemaRef {
    let mut f = vec![
        utf8("source_file", false),
        utf8("host", true),
        i64f("id", false),
        utf8("client_addr", false),
        Field::new("client_port", DataType::Int32, false),
        utf8("server_addr", false),
        Field::new("server_port", DataType::Int32, false),
        Field::new("roles_guessed", DataType::Boolean, false),
        Field::new("ts", ts_type(), false),
        Field::new("end_ts", ts_type(), false),
        Field::new("duration_s", DataType::Float64, false),
        Field::new("irtt_ms", DataType::Float64, true),
        utf8("conn_state", false),
        utf8("history", false),
    ];
    for who in ["client", "server"] {
        f.push(i64f(&format!("{who}_packets"), false));
        f.push(i64f(&format!("{who}_bytes"), false));
        f.push(i64f(&format!("{who}_ip_bytes"), false));
        for (name, _) in DIR_COUNTS {
            f.push(i64f(&format!("{who}_{name}"), false));
        }
    }
    f.extend([
        utf8("closed_first", true),
        utf8("time_wait", true),
        utf8("reset_by", true),
        utf8("rst_cause", true),
        i64f("rsts_not_obeyed", false),
        i64f("synacks_after_final_ack", false),
        utf8("missing_direction", true),
        i64f("time_wait_ended_by", true),
        utf8("client_end_state", false),
        utf8("server_end_state", false),
        utf8("client_saw", false),
        utf8("client_errno", true),
        utf8("server_saw", false),
        utf8("server_errno", true),
    ]);
    Arc::new(Schema::new(f))
}

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Connection rows as one record batch.
fn conns_batch(rows: &[(&Batch, &ConnSummary)]) -> RecordBatch {
    let n = rows.len();
    let side = |s: Option<Side>| s.map(Side::name);
    let strings = |get: &dyn Fn(&Batch, &ConnSummary) -> Option<String>| -> ArrayRef {
        let mut b = StringBuilder::with_capacity(n, n * 8);
        for (batch, c) in rows {
            b.append_option(get(batch, c));
        }
        Arc::new(b.finish())
    };
    let ints = |get: &dyn Fn(&ConnSummary) -> Option<i64>| -> ArrayRef {
        let mut b = Int64Builder::with_capacity(n);
        for (_, c) in rows {
            b.append_option(get(c));
        }
        Arc::new(b.finish())
    };
    let ports = |get: &dyn Fn(&ConnSummary) -> u16| -> ArrayRef {
        let mut b = Int32Builder::with_capacity(n);
        for (_, c) in rows {
            b.append_value(get(c) as i32);
        }
        Arc::new(b.finish())
    };
    let times = |get: &dyn Fn(&ConnSummary) -> Ts| -> ArrayRef {
        let mut b = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
        for (_, c) in rows {
            b.append_value(micros(get(c)));
        }
        Arc::new(b.finish())
    };
    let floats = |get: &dyn Fn(&ConnSummary) -> Option<f64>| -> ArrayRef {
        let mut b = Float64Builder::with_capacity(n);
        for (_, c) in rows {
            b.append_option(get(c));
        }
        Arc::new(b.finish())
    };
    let mut roles = BooleanBuilder::with_capacity(n);
    for (_, c) in rows {
        roles.append_value(c.roles_guessed);
    }
    let mut cols: Vec<ArrayRef> = vec![
        strings(&|b, c| Some(b.source_of(c).to_string())),
        strings(&|b, _| b.host.clone()),
        ints(&|c| Some(i64_of(c.id))),
        strings(&|_, c| Some(c.client.addr.to_string())),
        ports(&|c| c.client.port),
        strings(&|_, c| Some(c.server.addr.to_string())),
        ports(&|c| c.server.port),
        Arc::new(roles.finish()),
        times(&|c| c.start),
        times(&|c| c.end),
        floats(&|c| Some(c.duration())),
        floats(&|c| c.irtt.map(|v| v * 1e3)),
        strings(&|_, c| Some(c.conn_state.name().to_string())),
        strings(&|_, c| Some(c.history.clone())),
    ];
    for who in [Side::Client, Side::Server] {
        cols.push(ints(&|c| Some(i64_of(c.dir(who).packets))));
        cols.push(ints(&|c| Some(i64_of(c.dir(who).bytes))));
        cols.push(ints(&|c| Some(i64_of(c.dir(who).ip_bytes))));
        for (_, get) in DIR_COUNTS {
            cols.push(ints(&|c| Some(i64_of(get(c.dir(who))))));
        }
    }
    cols.extend([
        strings(&|_, c| side(c.closed_first).map(str::to_string)),
        strings(&|_, c| side(c.time_wait).map(str::to_string)),
        strings(&|_, c| side(c.reset_by).map(str::to_string)),
        strings(&|_, c| c.rst_cause.map(|r| r.key().to_string())),
        ints(&|c| Some(c.rsts_not_obeyed as i64)),
        ints(&|c| Some(c.synacks_after_final_ack as i64)),
        strings(&|_, c| side(c.missing).map(str::to_string)),
        ints(&|c| c.time_wait_ended_by.map(i64_of)),
        strings(&|_, c| Some(c.end_states.0.name().to_string())),
        strings(&|_, c| Some(c.end_states.1.name().to_string())),
        strings(&|_, c| Some(c.client_saw.key().to_string())),
        strings(&|_, c| c.client_saw.errno_name().map(str::to_string)),
        strings(&|_, c| Some(c.server_saw.key().to_string())),
        strings(&|_, c| c.server_saw.errno_name().map(str::to_string)),
    ]);
    RecordBatch::try_new(conns_schema(), cols).expect("columns follow conns_schema")
}

/// Write the connections of `batches` to `target`; returns the files.
pub fn write_conns(batches: &[Batch], target: Target) -> Result<Vec<PathBuf>, ParquetError> {
    let mut sink = Sink::new(target, conns_schema());
    for b in batches {
        // Rows in order, cut where the date changes (a partition each).
        let mut start = 0;
        while start < b.conns.len() {
            let date = utc_date(b.conns[start].start);
            let mut end = start + 1;
            while end < b.conns.len() && utc_date(b.conns[end].start) == date {
                end += 1;
            }
            let rows: Vec<(&Batch, &ConnSummary)> =
                b.conns[start..end].iter().map(|c| (b, c)).collect();
            sink.write(&conns_batch(&rows), &date, b.host.as_deref())?;
            start = end;
        }
    }
    sink.close()
}

/// The schema of packet records.
pub fn packets_schema() -> SchemaRef {
    let list = |name: &str| {
        Field::new(
            name,
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            false,
        )
    };
    Arc::new(Schema::new(vec![
        utf8("source_file", false),
        utf8("host", true),
        i64f("n", false),
        Field::new("ts", ts_type(), false),
        i64f("conn", false),
        utf8("dir", false),
        utf8("src_addr", false),
        Field::new("src_port", DataType::Int32, false),
        utf8("dst_addr", false),
        Field::new("dst_port", DataType::Int32, false),
        utf8("flags", false),
        i64f("seq", false),
        i64f("ack", true),
        i64f("window", false),
        i64f("len", false),
        utf8("client_state", false),
        utf8("server_state", false),
        Field::new("roles_guessed", DataType::Boolean, false),
        list("transitions"),
        list("analysis"),
        i64f("dupack", true),
        Field::new("irtt_ms", DataType::Float64, true),
        utf8("rst_cause", true),
        utf8("rst_effect", true),
    ]))
}

/// Rows per record batch.
const CHUNK: usize = 64 * 1024;

struct PacketBuilders {
    source_file: StringBuilder,
    host: StringBuilder,
    n: Int64Builder,
    ts: TimestampMicrosecondBuilder,
    conn: Int64Builder,
    dir: StringBuilder,
    src_addr: StringBuilder,
    src_port: Int32Builder,
    dst_addr: StringBuilder,
    dst_port: Int32Builder,
    flags: StringBuilder,
    seq: Int64Builder,
    ack: Int64Builder,
    window: Int64Builder,
    len: Int64Builder,
    client_state: StringBuilder,
    server_state: StringBuilder,
    roles_guessed: BooleanBuilder,
    transitions: ListBuilder<StringBuilder>,
    analysis: ListBuilder<StringBuilder>,
    dupack: Int64Builder,
    irtt_ms: Float64Builder,
    rst_cause: StringBuilder,
    rst_effect: StringBuilder,
}

impl PacketBuilders {
    fn new() -> PacketBuilders {
        PacketBuilders {
            source_file: StringBuilder::new(),
            host: StringBuilder::new(),
            n: Int64Builder::new(),
            ts: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            conn: Int64Builder::new(),
            dir: StringBuilder::new(),
            src_addr: StringBuilder::new(),
            src_port: Int32Builder::new(),
            dst_addr: StringBuilder::new(),
            dst_port: Int32Builder::new(),
            flags: StringBuilder::new(),
            seq: Int64Builder::new(),
            ack: Int64Builder::new(),
            window: Int64Builder::new(),
            len: Int64Builder::new(),
            client_state: StringBuilder::new(),
            server_state: StringBuilder::new(),
            roles_guessed: BooleanBuilder::new(),
            transitions: ListBuilder::new(StringBuilder::new()),
            analysis: ListBuilder::new(StringBuilder::new()),
            dupack: Int64Builder::new(),
            irtt_ms: Float64Builder::new(),
            rst_cause: StringBuilder::new(),
            rst_effect: StringBuilder::new(),
        }
    }

    fn finish(&mut self) -> RecordBatch {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.source_file.finish()),
            Arc::new(self.host.finish()),
            Arc::new(self.n.finish()),
            Arc::new(self.ts.finish()),
            Arc::new(self.conn.finish()),
            Arc::new(self.dir.finish()),
            Arc::new(self.src_addr.finish()),
            Arc::new(self.src_port.finish()),
            Arc::new(self.dst_addr.finish()),
            Arc::new(self.dst_port.finish()),
            Arc::new(self.flags.finish()),
            Arc::new(self.seq.finish()),
            Arc::new(self.ack.finish()),
            Arc::new(self.window.finish()),
            Arc::new(self.len.finish()),
            Arc::new(self.client_state.finish()),
            Arc::new(self.server_state.finish()),
            Arc::new(self.roles_guessed.finish()),
            Arc::new(self.transitions.finish()),
            Arc::new(self.analysis.finish()),
            Arc::new(self.dupack.finish()),
            Arc::new(self.irtt_ms.finish()),
            Arc::new(self.rst_cause.finish()),
            Arc::new(self.rst_effect.finish()),
        ];
        RecordBatch::try_new(packets_schema(), cols).expect("columns follow packets_schema")
    }
}

/// `read --format parquet`: one record per TCP packet, gathered in
/// batches of 64k rows, each within one UTC day; [`PacketColumns::take`]
/// hands them over with their date.
pub struct PacketColumns {
    builders: PacketBuilders,
    rows: usize,
    date: Option<(i64, String)>,
    source_file: String,
    host: Option<String>,
    done: Vec<(String, RecordBatch)>,
    text: String,
}

impl PacketColumns {
    /// Records naming `source_file` and `host`.
    pub fn new(source_file: &str, host: Option<&str>) -> PacketColumns {
        PacketColumns {
            builders: PacketBuilders::new(),
            rows: 0,
            date: None,
            source_file: source_file.to_string(),
            host: host.map(str::to_string),
            done: Vec::new(),
            text: String::new(),
        }
    }

    fn cut(&mut self) {
        if self.rows > 0 {
            let date = self.date.as_ref().map_or(String::new(), |d| d.1.clone());
            let batch = self.builders.finish();
            self.done.push((date, batch));
            self.rows = 0;
        }
    }

    /// The batches gathered so far, each with its UTC date.
    pub fn take(&mut self) -> Vec<(String, RecordBatch)> {
        self.cut();
        std::mem::take(&mut self.done)
    }

    /// The host the records name.
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }
}

impl Output for PacketColumns {
    fn tracks(&self) -> bool {
        true
    }

    fn set_source(&mut self, name: &str) {
        name.clone_into(&mut self.source_file);
    }

    fn packet(&mut self, p: &Packet<'_>, _: &mut Vec<u8>) {
        let Some(t) = &p.tcp else {
            return;
        };
        let (seg, obs, conn) = (t.seg, t.obs, t.conn);
        let day = seg.ts.sec.div_euclid(86_400);
        if self.date.as_ref().map(|d| d.0) != Some(day) || self.rows >= CHUNK {
            self.cut();
            if self.date.as_ref().map(|d| d.0) != Some(day) {
                self.date = Some((day, utc_date(seg.ts)));
            }
        }
        self.rows += 1;
        let b = &mut self.builders;
        b.source_file.append_value(&self.source_file);
        b.host.append_option(self.host.as_deref());
        b.n.append_value(i64_of(p.n));
        b.ts.append_value(micros(seg.ts));
        b.conn.append_value(i64_of(obs.conn));
        b.dir.append_value(if obs.from_client {
            "client_to_server"
        } else {
            "server_to_client"
        });
        use std::fmt::Write as _;
        self.text.clear();
        let _ = write!(self.text, "{}", seg.src.addr);
        b.src_addr.append_value(&self.text);
        b.src_port.append_value(seg.src.port as i32);
        self.text.clear();
        let _ = write!(self.text, "{}", seg.dst.addr);
        b.dst_addr.append_value(&self.text);
        b.dst_port.append_value(seg.dst.port as i32);
        b.flags.append_value(flags::letters(seg.flags));
        b.seq.append_value(obs.rel_seq as i64);
        b.ack
            .append_option(seg.has(flags::ACK).then_some(obs.rel_ack as i64));
        b.window.append_value(i64_of(obs.window));
        b.len.append_value(seg.len as i64);
        b.client_state.append_value(conn.client_state.name());
        b.server_state.append_value(conn.server_state.name());
        b.roles_guessed.append_value(obs.roles_guessed);
        for tr in obs.transitions() {
            self.text.clear();
            let _ = write!(
                self.text,
                "{}:{}>{}",
                tr.side.name(),
                tr.from.name(),
                tr.to.name()
            );
            b.transitions.values().append_value(&self.text);
        }
        b.transitions.append(true);
        for (bit, _, key) in Flags::ALL {
            if obs.flags.has(*bit) {
                b.analysis.values().append_value(key);
            }
        }
        b.analysis.append(true);
        b.dupack.append_option(
            obs.flags
                .has(Flags::DUPLICATE_ACK)
                .then_some(obs.dupack as i64),
        );
        b.irtt_ms.append_option(obs.irtt.map(|r| r * 1e3));
        b.rst_cause.append_option(obs.rst.map(|r| r.cause.key()));
        b.rst_effect.append_option(obs.rst.map(|r| r.effect.key()));
    }
}
