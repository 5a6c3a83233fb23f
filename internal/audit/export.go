package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"
	"unicode/utf8"
)

// ExportFormat is the format an export's header line names; a reader
// refuses any other, so that a change to the format cannot be misread.
const ExportFormat = "modelgate.audit/v1"

// MaxExportLine bounds a line of an export, newline excluded: the largest
// record modelgate writes (an evidence upload, its document at most 4 MiB)
// fits well inside it, and a reader never holds more than one line.
const MaxExportLine = 16 << 20

// An export is JSON Lines: a header line, then one line per record in
// sequence order. The header names the chain head the records continue
// from (genesis for a whole log) and the one they end at, so that a reader
// can tell a file cut short from a shorter log. Every record line carries
// every field its digest is taken over, so each digest can be recomputed
// from its line alone.
type (
	headerLine struct {
		Format  string   `json:"format"`
		After   headLine `json:"after"`
		Through headLine `json:"through"`
	}
	headLine struct {
		Seq    int64  `json:"seq"`
		Digest string `json:"digest"`
	}
	recordLine struct {
		Seq        int64  `json:"seq"`
		RecordedAt string `json:"recorded_at"`
		Entry
		PrevDigest string `json:"prev_digest"`
		Digest     string `json:"digest"`
	}
)

// ExportError names the line of an export at which it stops being one that
// can be imported. Err is a *ChainError when the records do not chain.
type ExportError struct {
	Name string // the file, as the user named it
	Line int    // 1-based; the header is line 1
	Err  error
}

func (e *ExportError) Error() string {
	return fmt.Sprintf("%s:%d: %v", e.Name, e.Line, e.Err)
}

func (e *ExportError) Unwrap() error { return e.Err }

// ExportWriter writes an export. It checks each record it is given against
// the one before, as a reader will, so that a log broken in the store
// yields an error (a *ChainError) rather than a file that looks whole.
type ExportWriter struct {
	w       *bufio.Writer
	through Head
	last    Head
}

// NewExportWriter writes the header of an export of the records that follow
// after and end at through.
func NewExportWriter(w io.Writer, after, through Head) (*ExportWriter, error) {
	x := &ExportWriter{w: bufio.NewWriter(w), through: through, last: after}
	line, err := encodeLine(headerLine{Format: ExportFormat, After: headLine(after), Through: headLine(through)})
	if err != nil {
		return nil, err
	}
	if _, err := x.w.Write(line); err != nil {
		return nil, fmt.Errorf("write audit export: %w", err)
	}
	return x, nil
}

// Write writes r, which must directly follow the record written before it.
func (x *ExportWriter) Write(r Record) error {
	if err := x.last.check(r); err != nil {
		return err
	}
	if r.Seq > x.through.Seq {
		return &ChainError{Seq: r.Seq, Reason: fmt.Sprintf("beyond the chain head (head says seq %d: record inserted)", x.through.Seq)}
	}
	line, err := encodeLine(recordLine{Seq: r.Seq, RecordedAt: r.RecordedAt.UTC().Format(TimeFormat), Entry: r.Entry, PrevDigest: r.PrevDigest, Digest: r.Digest})
	if err != nil {
		return fmt.Errorf("export audit record %d: %w", r.Seq, err)
	}
	// A record that does not read back as itself (a string that is not
	// UTF-8, which JSON cannot carry) would make a file no import accepts.
	back, err := parseRecord(line[:len(line)-1])
	if err != nil || back.ComputeDigest() != r.Digest {
		return fmt.Errorf("export audit record %d: it cannot be written as JSON faithfully (a field is not UTF-8)", r.Seq)
	}
	if _, err := x.w.Write(line); err != nil {
		return fmt.Errorf("write audit export: %w", err)
	}
	x.last = r.Head()
	return nil
}

// Close checks that the records written end at the head the header names,
// and flushes the export.
func (x *ExportWriter) Close() error {
	if x.last != x.through {
		return &ChainError{Seq: x.last.Seq + 1, Reason: fmt.Sprintf("missing (chain head says seq %d but last record is %d: tail deleted)", x.through.Seq, x.last.Seq)}
	}
	if err := x.w.Flush(); err != nil {
		return fmt.Errorf("write audit export: %w", err)
	}
	return nil
}

// encodeLine returns v as one line of compact JSON. HTML is not escaped: a
// payload is hashed byte for byte, and must be written as it is stored.
func encodeLine(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if buf.Len() > MaxExportLine+1 {
		return nil, fmt.Errorf("line of %d bytes is longer than %d", buf.Len()-1, MaxExportLine)
	}
	return buf.Bytes(), nil
}

// ExportReader reads an export and verifies it as it goes: each record's
// digest against its content, its link to the record before, its sequence
// number, and at the end that the file holds every record its header
// promises. Next returns no record that has not passed, so what it returns
// is a verified chain up to the line it refuses.
type ExportReader struct {
	r       *bufio.Reader
	name    string
	line    int
	after   Head
	through Head
	last    Head
	err     error
}

// NewExportReader reads the header of the export r; name is how errors call
// the file.
func NewExportReader(r io.Reader, name string) (*ExportReader, error) {
	x := &ExportReader{r: bufio.NewReaderSize(r, 64<<10), name: name}
	line, err := x.readLine()
	if errors.Is(err, io.EOF) {
		return nil, x.fail(errors.New("empty file (expected the header line)"))
	}
	if err != nil {
		return nil, err
	}
	// The format is read first, so that a later version's header is
	// refused for its version rather than for a field this one lacks.
	var h headerLine
	if err := json.Unmarshal(line, &h); err == nil && h.Format != ExportFormat {
		return nil, x.fail(fmt.Errorf("format %q is not %s", h.Format, ExportFormat))
	}
	if err := decodeStrict(line, &h); err != nil {
		return nil, x.fail(fmt.Errorf("not a header line: %w", err))
	}
	if err := checkHeader(h); err != nil {
		return nil, x.fail(err)
	}
	x.after, x.through, x.last = Head(h.After), Head(h.Through), Head(h.After)
	return x, nil
}

var digestPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

func checkHeader(h headerLine) error {
	switch {
	case !digestPattern.MatchString(h.After.Digest) || !digestPattern.MatchString(h.Through.Digest):
		return errors.New("after.digest and through.digest must be 64 lowercase hex digits")
	case h.After.Seq < 0 || h.Through.Seq < h.After.Seq:
		return fmt.Errorf("after.seq %d and through.seq %d are not a range of records", h.After.Seq, h.Through.Seq)
	case h.After.Seq == 0 && h.After.Digest != GenesisDigest:
		return errors.New("after.seq 0 is the start of the log, whose digest is the genesis digest")
	case h.Through.Seq == h.After.Seq && h.Through.Digest != h.After.Digest:
		return errors.New("an export of no records must end where it starts")
	}
	return nil
}

// After returns the chain head the export's records continue from.
func (x *ExportReader) After() Head { return x.after }

// Through returns the chain head the export's records end at.
func (x *ExportReader) Through() Head { return x.through }

// Next returns the next record, verified, or io.EOF once every record the
// header promises has been read. Any other error is an *ExportError naming
// the line, or an error reading the file; after it Next keeps returning it.
func (x *ExportReader) Next() (Record, error) {
	if x.err != nil {
		return Record{}, x.err
	}
	r, err := x.next()
	if err != nil {
		x.err = err
	}
	return r, err
}

func (x *ExportReader) next() (Record, error) {
	line, err := x.readLine()
	if errors.Is(err, io.EOF) {
		switch {
		case x.last.Seq < x.through.Seq:
			return Record{}, x.fail(fmt.Errorf("file ends after record %d, but its header says it runs through record %d (file truncated)", x.last.Seq, x.through.Seq))
		case x.last.Digest != x.through.Digest:
			return Record{}, x.fail(fmt.Errorf("audit record %d: digest is not the one the header names (record replaced)", x.last.Seq))
		}
		return Record{}, io.EOF
	}
	if err != nil {
		return Record{}, err
	}
	r, err := parseRecord(line)
	if err != nil {
		return Record{}, x.fail(err)
	}
	if err := x.last.check(r); err != nil {
		return Record{}, x.fail(err)
	}
	if r.Seq > x.through.Seq {
		return Record{}, x.fail(&ChainError{Seq: r.Seq, Reason: fmt.Sprintf("beyond the header's last record %d (record inserted)", x.through.Seq)})
	}
	// A record whose digest matches but that modelgate would never have
	// appended was made outside it.
	if e, err := r.Entry.Normalize(); err != nil || !bytes.Equal(e.Payload, r.Payload) {
		return Record{}, x.fail(&ChainError{Seq: r.Seq, Reason: "not a record modelgate appends (empty kind, or a payload that is not a compact JSON object)"})
	}
	x.last = r.Head()
	return r, nil
}

// readLine returns the next line without its newline, io.EOF at the end of
// the file, and refuses a line longer than MaxExportLine before it has read
// more of it, and a last line without a newline, which a cut file leaves.
func (x *ExportReader) readLine() ([]byte, error) {
	var line []byte
	for {
		chunk, err := x.r.ReadSlice('\n')
		line = append(line, chunk...)
		n := len(line)
		if err == nil {
			n-- // the newline
		}
		if n > MaxExportLine {
			x.line++
			return nil, x.fail(fmt.Errorf("line longer than %d bytes", MaxExportLine))
		}
		switch {
		case err == nil:
			x.line++
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) == 0:
			x.line++
			return nil, io.EOF
		case errors.Is(err, io.EOF):
			x.line++
			return nil, x.fail(errors.New("last line has no newline (file truncated)"))
		}
		return nil, fmt.Errorf("read %s: %w", x.name, err)
	}
}

func (x *ExportReader) fail(err error) error {
	return &ExportError{Name: x.name, Line: x.line, Err: err}
}

// parseRecord reads a record line. Its time must be written exactly as it
// is hashed, so that the line is the one an export of the record writes.
func parseRecord(line []byte) (Record, error) {
	var l recordLine
	if err := decodeStrict(line, &l); err != nil {
		return Record{}, fmt.Errorf("not a record line: %w", err)
	}
	at, err := time.Parse(TimeFormat, l.RecordedAt)
	if err != nil || at.Format(TimeFormat) != l.RecordedAt {
		return Record{}, fmt.Errorf("audit record %d: recorded_at %q is not a time written as %s", l.Seq, l.RecordedAt, TimeFormat)
	}
	if !utf8.Valid(l.Payload) {
		return Record{}, fmt.Errorf("audit record %d: payload is not UTF-8", l.Seq)
	}
	return Record{Seq: l.Seq, RecordedAt: at, Entry: l.Entry, PrevDigest: l.PrevDigest, Digest: l.Digest}, nil
}

// decodeStrict decodes a line that must be one JSON object with only v's
// fields.
func decodeStrict(line []byte, v any) error {
	if len(line) == 0 || line[0] != '{' {
		return errors.New("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("more than one JSON value on the line")
	}
	return nil
}
