use super::*;
use std::fs::File;
use std::io::Write;

fn read_all(input: &str) -> (Vec<String>, u64) {
    let mut reader = RecordReader::new(input.as_bytes(), Path::new("test"));
    let mut out = Vec::new();
    while let Some(entry) = reader.next_entry().unwrap() {
        out.push(format!("{entry:?}"));
    }
    (out, reader.broken_lines())
}

#[test]
fn written_lines_read_back() {
    let mut out = Vec::new();
    let frame = r#"{"channel":"heartbeats","sequence_num":0,"events":[]}"#;
    write_frame_line(&mut out, 5, frame, true).unwrap();
    write_frame_line(&mut out, 6, "not json", false).unwrap();
    write_frame_line(&mut out, 7, "{\"a\":\n1}", true).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        format!(r#"{{"t":5,"frame":{frame}}}"#)
    );
    let mut reader = RecordReader::new(text.as_bytes(), Path::new("test"));
    let expect = [(5, frame), (6, "not json"), (7, "{\"a\":\n1}")];
    for (t, f) in expect {
        match reader.next_entry().unwrap().unwrap() {
            Entry::Frame { t_ms, text, bare } => {
                assert_eq!((t_ms, text.as_ref(), bare), (Some(t), f.as_bytes(), false));
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(reader.next_entry().unwrap().is_none());
}

#[test]
fn markers_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.jsonl");
    let info = ConnectInfo {
        url: "ws://127.0.0.1:1".into(),
        authenticated: true,
        products: vec!["BTC-USD".into()],
        user: false,
    };
    {
        let mut r = Recorder::open(&path).unwrap();
        r.connect(1, &info).unwrap();
        r.frame(2, r#"{"channel":"x"}"#, true).unwrap();
        r.resync(3).unwrap();
        r.disconnect(4, "closed \"abruptly\"").unwrap();
        r.flush().unwrap();
    }
    // Appending keeps what was there.
    Recorder::open(&path).unwrap().connect(5, &info).unwrap();
    let mut reader = RecordReader::open(&path).unwrap();
    let mut entries = Vec::new();
    while let Some(e) = reader.next_entry().unwrap() {
        entries.push(format!("{e:?}"));
    }
    assert_eq!(entries.len(), 5, "{entries:?}");
    assert!(entries[0].starts_with("Connect { t_ms: 1"));
    assert!(entries[2].starts_with("Resync { t_ms: 3"));
    assert!(
        entries[3].contains(r#"closed \"abruptly\""#),
        "{}",
        entries[3]
    );
    assert!(entries[4].starts_with("Connect { t_ms: 5"));
}

#[test]
fn binary_and_unread_frames_read_back_and_bad_base64_is_a_broken_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.jsonl");
    let bytes = [0xff, 0xfe, 0x00, b'\n', 0x80];
    {
        let mut r = Recorder::open(&path).unwrap();
        r.binary_on(0, 1, &bytes).unwrap();
        r.unread_on(2, 2, "frame over the 64 MiB limit").unwrap();
        r.flush().unwrap();
    }
    let mut text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text,
        "{\"t\":1,\"binary\":\"//4ACoA=\"}\n{\"t\":2,\"c\":2,\"unread\":\"frame over the 64 MiB limit\"}\n"
    );
    text.push_str("{\"t\":3,\"binary\":\"not base64!\"}\n");
    let mut reader = RecordReader::new(text.as_bytes(), Path::new("test"));
    assert_eq!(
        reader.next_entry_on().unwrap(),
        Some((
            Entry::Binary {
                t_ms: 1,
                bytes: bytes.to_vec()
            },
            0
        ))
    );
    assert_eq!(
        reader.next_entry_on().unwrap(),
        Some((
            Entry::Unread {
                t_ms: 2,
                reason: "frame over the 64 MiB limit".into()
            },
            2
        ))
    );
    assert_eq!(reader.next_entry_on().unwrap(), None);
    assert_eq!(reader.broken_lines(), 1);
}

#[test]
fn bare_frames_and_broken_lines() {
    let input = "{\"channel\":\"heartbeats\",\"sequence_num\":0}\r\n\
                 \n\
                 {\"t\":12,\"frame\":{\"channel\":\"l2\n\
                 {\"t\":\"x\",\"frame\":{}}\n\
                 {\"t\":1,\"nothing\":1}\n\
                 {\"t\": 13, \"frame\": {\"channel\":\"heartbeats\"}}\n\
                 {\"t\":14,\"frame\":{\"channel\":\"heartbeats\"}}";
    let (entries, broken) = read_all(input);
    assert_eq!(broken, 3, "{entries:?}");
    assert_eq!(entries.len(), 3, "{entries:?}");
    assert!(entries[0].contains("t_ms: None") && entries[0].contains("bare: true"));
    assert!(entries[1].contains("t_ms: Some(13)") && entries[1].contains("bare: false"));
    assert!(entries[2].contains("t_ms: Some(14)"));
}

#[test]
fn invalid_utf8_in_an_entry_is_a_broken_line_and_in_a_bare_frame_a_bad_frame() {
    let mut input = b"{\"channel\":\"a\"}\n".to_vec();
    input.extend_from_slice(b"{\"t\":1,\"text\":\"\xff\"}\n");
    input.extend_from_slice(&[0xff, 0xfe, b'\n']);
    input.extend_from_slice(b"{\"channel\":\"b\"}");
    let mut reader = RecordReader::new(&input[..], Path::new("test"));
    let mut core = crate::feed::core::FeedCore::new("test", &[], false, 0);
    let mut n = 0;
    while let Some(entry) = reader.next_entry().unwrap() {
        if let Entry::Frame { text, .. } = entry {
            core.on_frame_bytes(&text, 0);
        }
        n += 1;
    }
    assert_eq!((n, reader.broken_lines(), reader.lines()), (3, 1, 4));
    assert_eq!(core.stats().bad_frames, 1);
}

#[test]
fn lines_longer_than_the_read_buffer_and_across_its_end() {
    // Frames of every size around the buffer's, so that lines start and end at every
    // position relative to it, and some are longer than it.
    let mut input = Vec::new();
    let mut expected = Vec::new();
    for (i, len) in [
        10,
        READ_BUFFER - 40,
        3 * READ_BUFFER,
        7,
        READ_BUFFER,
        100,
        READ_BUFFER + 1,
    ]
    .into_iter()
    .enumerate()
    {
        let frame = format!(r#"{{"channel":"x","n":{i},"pad":"{}"}}"#, "p".repeat(len));
        write_frame_line(&mut input, i as i64, &frame, true).unwrap();
        expected.push(frame);
    }
    let mut reader = RecordReader::new(&input[..], Path::new("test"));
    for (i, frame) in expected.iter().enumerate() {
        match reader.next_entry().unwrap().unwrap() {
            Entry::Frame { t_ms, text, bare } => {
                assert_eq!((t_ms, bare), (Some(i as i64), false));
                assert!(text.as_ref() == frame.as_bytes(), "frame {i} differs");
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(reader.next_entry().unwrap().is_none());
    assert_eq!(reader.broken_lines(), 0);
}

#[test]
fn a_line_over_the_limit_is_skipped_as_broken_without_being_held() {
    // A line of almost twice the limit (several read buffers long), then a good frame.
    let limit = 3 * READ_BUFFER + 1024;
    let mut input = vec![0u8; 2 * limit - 10];
    input.extend_from_slice(b"\n{\"t\":7,\"frame\":{\"channel\":\"x\"}}\n");
    let mut reader = RecordReader::new(&input[..], Path::new("test")).with_max_line(limit);
    match reader.next_entry().unwrap().unwrap() {
        Entry::Frame { t_ms, .. } => assert_eq!(t_ms, Some(7)),
        other => panic!("{other:?}"),
    }
    assert_eq!((reader.broken_lines(), reader.too_long_lines()), (1, 1));
    assert!(
        reader.long_line.capacity() <= limit,
        "held {} bytes",
        reader.long_line.capacity()
    );
    assert!(reader.next_entry().unwrap().is_none());
}

/// `pattern` over and over, for ever.
struct Cycle(&'static [u8], usize);

impl Read for Cycle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        for b in buf.iter_mut() {
            *b = self.0[self.1];
            self.1 = (self.1 + 1) % self.0.len();
        }
        Ok(buf.len())
    }
}

#[test]
fn endless_input_without_an_entry_is_an_error_after_twice_the_line_limit() {
    let limit = READ_BUFFER + 1024;
    let entry = b"{\"t\":7,\"resync\":\"user\"}\n";
    // Endless bytes without a line break (/dev/zero), endless line breaks, endless broken
    // lines: each after an entry and from the start.
    type Endless = fn() -> Box<dyn Read>;
    let endless: [(&str, Endless); 3] = [
        ("zeros", || Box::new(io::repeat(0))),
        ("line breaks", || Box::new(io::repeat(b'\n'))),
        ("broken lines", || Box::new(Cycle(b"{\"t\":\"x\"}\n", 0))),
    ];
    for (what, junk) in &endless {
        for lead in [&entry[..], b""] {
            let input = Read::chain(lead, junk());
            let mut reader = RecordReader::new(input, Path::new("endless")).with_max_line(limit);
            let mut entries = 0;
            let err = loop {
                match reader.next_entry() {
                    Ok(Some(_)) => entries += 1,
                    Ok(None) => panic!("{what}: an endless input ended"),
                    Err(err) => break err,
                }
            };
            assert_eq!(entries, usize::from(!lead.is_empty()), "{what}");
            let text = err.to_string();
            if what == &"broken lines" && lead.is_empty() {
                // From the start, broken lines end at the 100-line probe.
                assert!(text.contains("not a cbbook recording"), "{what}: {text}");
                continue;
            }
            assert!(matches!(err, RecordError::NoEntry { .. }), "{what}: {text}");
            assert!(text.contains("endless has no readable entry"), "{text}");
            let from = if lead.is_empty() {
                "line 1 on"
            } else {
                "line 2 on"
            };
            assert!(text.contains(from), "{what}: {text}");
        }
    }
}

#[test]
fn each_step_is_bounded_even_inside_an_endless_line() {
    // The full line limit (384 MiB): a step hands control back long before it is reached.
    let mut reader = RecordReader::new(io::repeat(0), Path::new("zeros"));
    let mut steps = 0;
    loop {
        match reader.poll_entry_on() {
            Ok(Polled::Busy) => steps += 1,
            Ok(other) => panic!("{other:?}"),
            Err(err) => {
                assert!(matches!(err, RecordError::NoEntry { .. }), "{err}");
                break;
            }
        }
        if steps == 3 {
            // Three steps read at most three slices (plus the buffer being filled).
            assert!(
                reader.skipped <= 3 * READ_SLICE + READ_BUFFER,
                "{}",
                reader.skipped
            );
            return;
        }
    }
    panic!("no step came back before the error");
}

#[test]
fn a_file_of_line_breaks_is_read_a_slice_of_lines_at_a_time() {
    let input = vec![b'\n'; 3 * READ_SLICE_LINES as usize];
    let mut reader = RecordReader::new(&input[..], Path::new("blank"));
    assert_eq!(reader.poll_entry_on().unwrap(), Polled::Busy);
    assert_eq!(reader.lines(), READ_SLICE_LINES);
    let mut steps = 1;
    while reader.poll_entry_on().unwrap() != Polled::End {
        steps += 1;
    }
    assert_eq!((steps, reader.lines()), (3, 3 * READ_SLICE_LINES));
}

#[test]
fn a_line_at_the_limit_is_read() {
    let frame = format!(
        r#"{{"channel":"x","pad":"{}"}}"#,
        "p".repeat(2 * READ_BUFFER)
    );
    let line = format!(r#"{{"t":1,"frame":{frame}}}"#);
    let input = format!("{line}\n");
    let mut reader =
        RecordReader::new(input.as_bytes(), Path::new("test")).with_max_line(line.len() + 1);
    assert!(matches!(
        reader.next_entry().unwrap(),
        Some(Entry::Frame { .. })
    ));
    assert_eq!(reader.broken_lines(), 0);
}

#[test]
fn a_byte_order_mark_does_not_break_the_first_line() {
    let input = b"\xEF\xBB\xBF{\"t\":3,\"resync\":\"user\"}\n";
    let mut reader = RecordReader::new(&input[..], Path::new("test"));
    assert_eq!(
        reader.next_entry().unwrap(),
        Some(Entry::Resync { t_ms: 3 })
    );
    assert_eq!(reader.broken_lines(), 0);
}

#[test]
fn compressed_files_are_refused_with_the_command_that_undoes_them() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"{\"t\":1,\"resync\":\"user\"}\n").unwrap();
    let gz = gz.finish().unwrap();
    let mut reader = RecordReader::new(&gz[..], Path::new("rec.jsonl.gz"));
    let err = reader.next_entry().unwrap_err().to_string();
    assert!(
        err.contains("gzip-compressed") && err.contains("gunzip"),
        "{err}"
    );
}

#[test]
fn a_file_of_broken_lines_is_not_a_recording() {
    let input = "{\"t\":\"x\"}\n".repeat(PROBE_LINES as usize + 5);
    let mut reader = RecordReader::new(input.as_bytes(), Path::new("junk"));
    let err = reader.next_entry().unwrap_err();
    assert!(
        matches!(err, RecordError::NotARecording { lines, .. } if lines == PROBE_LINES),
        "{err}"
    );
}

#[test]
fn appending_after_a_cut_line_starts_on_a_new_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.jsonl");
    let info = ConnectInfo {
        url: "ws://x".into(),
        authenticated: false,
        products: vec!["BTC-USD".into()],
        user: false,
    };
    // A run that crashed in the middle of a snapshot line.
    std::fs::write(
        &path,
        "{\"t\":1,\"connect\":{\"url\":\"ws://x\"}}\n{\"t\":2,\"frame\":{\"channel\":\"l2_da",
    )
    .unwrap();
    let mut r = Recorder::open(&path).unwrap();
    r.connect(5, &info).unwrap();
    r.flush().unwrap();
    let mut reader = RecordReader::open(&path).unwrap();
    let mut entries = Vec::new();
    while let Some(e) = reader.next_entry().unwrap() {
        entries.push(format!("{e:?}"));
    }
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(entries[1].starts_with("Connect { t_ms: 5"), "{entries:?}");
    assert_eq!(reader.broken_lines(), 1);
    // A whole file gets no extra blank line.
    let before = std::fs::read(&path).unwrap();
    Recorder::open(&path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn io_causes_are_printed_once_and_a_directory_is_named() {
    let dir = tempfile::tempdir().unwrap();
    for err in [
        RecordReader::open(dir.path()).err().unwrap(),
        Recorder::open(dir.path()).err().unwrap(),
    ] {
        let chain = format!("{:#}", anyhow::Error::new(err));
        assert!(
            chain.contains("is a directory: give the path of a file"),
            "{chain}"
        );
        assert!(!chain.contains("os error"), "{chain}");
    }
    let missing = dir.path().join("missing.jsonl");
    let chain = format!(
        "{:#}",
        anyhow::Error::new(RecordReader::open(&missing).err().unwrap())
    );
    assert_eq!(chain.matches("No such file").count(), 1, "{chain}");
}

#[test]
fn a_writable_but_unreadable_file_is_recorded_to() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.jsonl");
    std::fs::write(&path, "{\"t\":1,\"resync\":\"user\"}\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o200)).unwrap();
    // Root (or CAP_DAC_OVERRIDE) reads it anyway: then this checks only that it opens and
    // records, not the write-only path.
    let readable = File::open(&path).is_ok();
    let mut r = Recorder::open(&path).unwrap_or_else(|e| panic!("readable {readable}: {e}"));
    r.resync(2).unwrap();
    r.flush().unwrap();
    drop(r);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "{\"t\":1,\"resync\":\"user\"}\n{\"t\":2,\"resync\":\"user\"}\n",
        "readable {readable}"
    );
}

#[test]
fn the_longest_text_line_the_recorder_writes_is_read() {
    // The worst case: control characters only (six bytes each once escaped), at the
    // earliest time (the longest `t`), in a line longer than the read buffer (so the limit
    // applies). Twice the frame plus 4 KiB, the old bound, was short of it.
    let frame_bytes = READ_BUFFER;
    let frame = "\u{1}".repeat(frame_bytes);
    let mut out = Vec::new();
    write_frame_line(&mut out, i64::MIN, &frame, false).unwrap();
    assert!(out.len() > 6 * frame_bytes, "{} bytes", out.len());
    let mut reader =
        RecordReader::new(&out[..], Path::new("test")).with_max_line(max_line_bytes(frame_bytes));
    match reader.next_entry().unwrap() {
        Some(Entry::Frame { t_ms, text, .. }) => {
            assert_eq!((t_ms, text.as_ref()), (Some(i64::MIN), frame.as_bytes()));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(reader.broken_lines(), 0);
}
