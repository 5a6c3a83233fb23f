package table

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

func readString(t testing.TB, data string, specs ...Spec) (*Table, error) {
	t.Helper()
	fsys := fstest.MapFS{"data.csv": {Data: []byte(data)}}
	return Read(context.Background(), fsys, "data.csv", specs, generous)
}

func mustRead(t *testing.T, data string, specs ...Spec) *Table {
	t.Helper()
	tb, err := readString(t, data, specs...)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestReadCSV(t *testing.T) {
	data := "\xef\xbb\xbfname,score,ok,note\r\n" +
		"a,1.5,true,plain\r\n" +
		"\r\n" + // blank lines are skipped
		`"b, with comma",2,FALSE,"two` + "\r\n" + `lines"` + "\r\n" +
		`"say ""hi""",,1,""` + "\r\n" +
		"c,x,maybe,ragged,extra\r\n" +
		"a, 3e2 ,0,last" // no final newline
	tb := mustRead(t, data,
		Spec{Name: "name", Type: String, Keep: Values | Hashes},
		Spec{Name: "score", Type: Float, Keep: Values},
		Spec{Name: "ok", Type: Bool, Keep: Values},
		Spec{Name: "note", Type: String, Keep: Distinct},
		Spec{Name: "absent", Type: String},
	)
	if tb.Rows != 5 {
		t.Fatalf("rows = %d, want 5", tb.Rows)
	}
	if want := sha256.Sum256([]byte(data)); tb.SHA256 != hex.EncodeToString(want[:]) {
		t.Errorf("sha256 = %s", tb.SHA256)
	}
	if !slices.Equal(tb.Header, []string{"name", "score", "ok", "note"}) {
		t.Errorf("header = %q", tb.Header)
	}
	if tb.Column("absent") != nil {
		t.Error("a column the file lacks is present")
	}
	if tb.Ragged.Count != 1 || !slices.Equal(tb.Ragged.Rows, []int{4}) || tb.Ragged.Example != "5" {
		t.Errorf("ragged = %+v", tb.Ragged)
	}

	name := tb.Column("name")
	var names []string
	for _, c := range name.Codes {
		if c < 0 {
			names = append(names, "<none>")
			continue
		}
		names = append(names, name.Dict[c].Value)
	}
	if want := []string{"a", "b, with comma", `say "hi"`, "<none>", "a"}; !slices.Equal(names, want) {
		t.Errorf("names = %q, want %q", names, want)
	}
	if name.Hashes[0] != name.Hashes[4] || name.Hashes[0] == name.Hashes[1] || name.Hashes[3] != 0 {
		t.Errorf("hashes = %v", name.Hashes)
	}
	if e := name.Dict[0]; e.Value != "a" || e.Count != 2 || !slices.Equal(e.Rows, []int{1, 5}) {
		t.Errorf("dict[0] = %+v", e)
	}

	score := tb.Column("score")
	if got := score.Floats; got[0] != 1.5 || got[1] != 2 || !math.IsNaN(got[2]) || !math.IsNaN(got[3]) || got[4] != 300 {
		t.Errorf("scores = %v", got)
	}
	if score.Nulls.Count != 1 || score.Nulls.Rows[0] != 3 {
		t.Errorf("score nulls = %+v", score.Nulls)
	}

	ok := tb.Column("ok")
	if !slices.Equal(ok.Codes, []int32{1, 0, 1, -1, 0}) {
		t.Errorf("ok = %v", ok.Codes)
	}

	note := tb.Column("note")
	if note.Codes != nil {
		t.Error("codes kept without Values")
	}
	var notes []string
	for _, e := range note.Dict {
		notes = append(notes, e.Value)
	}
	if want := []string{"plain", "two\r\nlines", "last"}; !slices.Equal(notes, want) {
		t.Errorf("notes = %q, want %q", notes, want)
	}
	if note.Nulls.Count != 1 || note.Nulls.Rows[0] != 3 {
		t.Errorf("a quoted empty field is null too: %+v", note.Nulls)
	}
}

func TestReadInvalidAndTests(t *testing.T) {
	var b strings.Builder
	b.WriteString("v,s\n")
	for i := range 20 {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "%d,ok\n", i)
		case 1:
			fmt.Fprintf(&b, "nan,bad\n")
		case 2:
			fmt.Fprintf(&b, "%d.5,ok\n", i)
		default:
			fmt.Fprintf(&b, ",\n")
		}
	}
	tb := mustRead(t, b.String(),
		Spec{Name: "v", Type: Int, Tests: []Test{{Number: func(v float64) bool { return v < 10 }}}},
		Spec{Name: "s", Type: String, Tests: []Test{{Text: func(b []byte) bool { return string(b) == "ok" }}}},
	)
	v := tb.Column("v")
	if v.Invalid.Count != 10 || !slices.Equal(v.Invalid.Rows, []int{2, 3, 6, 7, 10}) || v.Invalid.Example != "nan" {
		t.Errorf("invalid = %+v", v.Invalid)
	}
	if v.Failed[0].Count != 2 || !slices.Equal(v.Failed[0].Rows, []int{13, 17}) || v.Failed[0].Example != "12" {
		t.Errorf("failed = %+v", v.Failed[0])
	}
	if v.Nulls.Count != 5 {
		t.Errorf("nulls = %+v", v.Nulls)
	}
	if s := tb.Column("s"); s.Failed[0].Count != 5 || s.Failed[0].Example != "bad" {
		t.Errorf("text test = %+v", s.Failed[0])
	}
}

func TestReadErrors(t *testing.T) {
	for _, c := range []struct {
		name, data, want string
	}{
		{"empty", "", "data.csv: the file is empty"},
		{"blank", "\n\r\n", "data.csv: the file is empty"},
		{"bare quote", "a,b\n1,2\n3,4 \"inch\"\n", `data.csv:3: row 2: field 2: a quote in a field that is not quoted`},
		{"after quote", "a,b\n\"x\"y,2\n", `data.csv:2: row 1: field 1: 'y' after a closing quote`},
		{"not closed", "a,b\n1,2\n\"open,2\n3,4\n", "data.csv:3: row 2: a quoted field is not closed"},
		{"header", "a,\"b\n", "data.csv:1: header: a quoted field is not closed"},
		{"twice", "a,b,a\n1,2,3\n", `data.csv: column "a" appears more than once in the header`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := readString(t, c.data, Spec{Name: "a", Type: String, Keep: Values})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want %q", err, c.want)
			}
		})
	}
}

func TestReadSpecErrors(t *testing.T) {
	if _, err := readString(t, "a\n1\n", Spec{Name: "a", Type: Float}, Spec{Name: "a", Type: Int}); err == nil {
		t.Error("a column asked for twice is accepted")
	}
	if _, err := readString(t, "a\n1\n", Spec{Name: "a"}); err == nil {
		t.Error("a spec without a type is accepted")
	}
	if _, err := Read(context.Background(), fstest.MapFS{}, "missing.csv", nil, generous); err == nil || !strings.Contains(err.Error(), "missing.csv") {
		t.Errorf("error = %v", err)
	}
}

// TestReadBlocks reads a file of many blocks, with quoted fields that span lines
// and block boundaries, and compares it with encoding/csv.
func TestReadBlocks(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("id,text,value\n")
	for i := range 150000 {
		text := strconv.Itoa(i * 7919 % 1000)
		switch i % 5 {
		case 1:
			text = `"multi` + "\n" + `line ` + text + `"`
		case 2:
			text = `"comma, and ""quotes"" ` + text + `"`
		}
		fmt.Fprintf(&b, "%d,%s,%d.25\r\n", i, text, i%977)
	}
	if b.Len() < 3*blockSize {
		t.Fatalf("only %d bytes", b.Len())
	}
	tb := mustRead(t, b.String(),
		Spec{Name: "id", Type: Int, Keep: Values},
		Spec{Name: "text", Type: String, Keep: Values},
		Spec{Name: "value", Type: Float, Keep: Values},
	)
	r := csv.NewReader(bytes.NewReader(b.Bytes()))
	records, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	records = records[1:]
	if tb.Rows != len(records) {
		t.Fatalf("rows = %d, want %d", tb.Rows, len(records))
	}
	text := tb.Column("text")
	for i, rec := range records {
		if got := tb.Column("id").Floats[i]; got != float64(i) {
			t.Fatalf("row %d: id = %v", i+1, got)
		}
		if got := text.Dict[text.Codes[i]].Value; got != rec[1] {
			t.Fatalf("row %d: text = %q, want %q", i+1, got, rec[1])
		}
		if got, want := tb.Column("value").Floats[i], float64(i%977)+0.25; got != want {
			t.Fatalf("row %d: value = %v, want %v", i+1, got, want)
		}
	}
}

// TestErrorRowAcrossBlocks checks that an error's row and line count the rows
// and lines of every block before it.
func TestErrorRowAcrossBlocks(t *testing.T) {
	var b strings.Builder
	b.WriteString("a,b\n")
	lines := 1
	for i := range 200000 {
		if i%3 == 0 {
			b.WriteString("\"x\ny\",1\n")
			lines += 2
		} else {
			b.WriteString("z,1\n")
			lines++
		}
	}
	b.WriteString("bad\"quote,1\n")
	_, err := readString(t, b.String(), Spec{Name: "a", Type: String})
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error = %v", err)
	}
	if se.Row != 200001 || se.Line != lines+1 {
		t.Errorf("row %d line %d, want row 200001 line %d", se.Row, se.Line, lines+1)
	}
}

func TestParseNumber(t *testing.T) {
	valid := []string{"0", "-0", "1", "+1", "1.5", "-1.5", ".5", "5.", "1e3", "1E-3", "1.25e+2",
		"123456789012345678901234567890", "0.1", "0.30000000000000004", "1.7976931348623157e308",
		"4.9e-324", "1e-400", "12345678901234567890.5", " 7 ", "\t8", "00012", "9007199254740993",
		"0.000000000000000000000000001", "3.141592653589793238462643383279"}
	for _, s := range valid {
		got, ok := ParseNumber([]byte(s))
		want, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			t.Fatalf("%q: %v", s, err)
		}
		if !ok || got != want || got == 0 && math.Signbit(got) {
			t.Errorf("ParseNumber(%q) = %v, %v; want %v", s, got, ok, want)
		}
	}
	for _, s := range []string{"", " ", "-", "+", ".", "e3", "1e", "1e+", "1.2.3", "nan", "NaN", "inf", "-Inf",
		"infinity", "0x1p3", "1_000", "1,5", "1e400", "--1", "1 2", "abc"} {
		if v, ok := ParseNumber([]byte(s)); ok {
			t.Errorf("ParseNumber(%q) = %v, want not a number", s, v)
		}
	}
}

func TestParseBool(t *testing.T) {
	for s, want := range map[string]bool{"true": true, "TRUE": true, "False": false, "1": true, "0": false, "1.0": true, "0.0": false, " true ": true} {
		if got, ok := ParseBool([]byte(s)); !ok || got != want {
			t.Errorf("ParseBool(%q) = %v, %v", s, got, ok)
		}
	}
	for _, s := range []string{"", "yes", "2", "truth", "0.5"} {
		if _, ok := ParseBool([]byte(s)); ok {
			t.Errorf("ParseBool(%q) is a bool", s)
		}
	}
	// Any one byte of a bool's name changed to any other is a bool only if
	// it is the same letter in the other case.
	for _, name := range []string{"true", "false", "TRUE", "FALSE"} {
		for i := range name {
			for c := range 256 {
				b := []byte(name)
				b[i] = byte(c)
				want := bytes.EqualFold(b, []byte(name))
				if got, ok := ParseBool(b); ok != want || ok && got != (len(name) == 4) {
					t.Fatalf("ParseBool(%q) = %v, %v", b, got, ok)
				}
			}
		}
	}
}

// FuzzReadCSV reads arbitrary input and compares the records with encoding/csv's
// where that reads it: the same rows and fields, nothing dropped, and never a
// panic. encoding/csv turns CRLF inside quoted fields into LF, which is undone
// before comparing.
func FuzzReadCSV(f *testing.F) {
	for _, seed := range []string{
		"a,b\n1,2\n", "a,b\r\n\"x,y\",\"1\"\"2\"\r\n", "a\n\n\n1\n", "\xef\xbb\xbfa,b\n1\n1,2,3\n",
		"a,b\n\"multi\nline\",2", "a,b\n1,\"unterminated\n", "a,b\n1,2\"\n", "a\r\n\"\"\r\n",
		"a,b\n,\n", "\"a\",b\n\"1\"x,2\n", "a,b\r1,2\r", "a,b\n1,2\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		specs := []Spec{{Name: "a", Type: String, Keep: Values}, {Name: "b", Type: Float, Keep: Values | Hashes}}
		tb, err := Read(context.Background(), fstest.MapFS{"f.csv": {Data: data}}, "f.csv", specs, generous)
		r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))))
		r.FieldsPerRecord = -1
		records, oracleErr := r.ReadAll()
		if err != nil {
			if oracleErr == nil && len(records) > 0 && !strings.ContainsRune(string(data), '\r') && !askedTwice(records[0]) {
				t.Fatalf("error %v on input encoding/csv reads as %q", err, records)
			}
			return
		}
		if oracleErr != nil || strings.ContainsRune(string(data), '\r') {
			return // the readers differ on lone CRs and on what encoding/csv refuses
		}
		if len(records) == 0 {
			t.Fatalf("read %d rows of input encoding/csv finds empty", tb.Rows)
		}
		header, rows := records[0], records[1:]
		if !slices.Equal(tb.Header, header) {
			t.Fatalf("header %q, want %q", tb.Header, header)
		}
		if tb.Rows != len(rows) {
			t.Fatalf("%d rows, want %d", tb.Rows, len(rows))
		}
		ai, bi := slices.Index(header, "a"), slices.Index(header, "b")
		if ai >= 0 && slices.Index(header[ai+1:], "a") < 0 {
			a := tb.Column("a")
			for i, rec := range rows {
				want, got := "", ""
				if len(rec) == len(header) {
					want = rec[ai]
				}
				if c := a.Codes[i]; c >= 0 {
					got = a.Dict[c].Value
				}
				if got != want {
					t.Fatalf("row %d: a = %q, want %q", i+1, got, want)
				}
			}
		}
		if bi >= 0 && slices.Index(header[bi+1:], "b") < 0 {
			b := tb.Column("b")
			for i, rec := range rows {
				v := b.Floats[i]
				if len(rec) != len(header) || rec[bi] == "" {
					if !math.IsNaN(v) {
						t.Fatalf("row %d: b = %v, want none", i+1, v)
					}
					continue
				}
				want, ok := ParseNumber([]byte(rec[bi]))
				if ok != !math.IsNaN(v) || ok && v != want {
					t.Fatalf("row %d: b = %v, want %v (%q)", i+1, v, want, rec[bi])
				}
			}
		}
	})
}

// askedTwice reports whether a header names a column the fuzz target reads
// twice, which Read refuses.
func askedTwice(header []string) bool {
	for _, name := range []string{"a", "b"} {
		if i := slices.Index(header, name); i >= 0 && slices.Contains(header[i+1:], name) {
			return true
		}
	}
	return false
}

// BenchmarkReadCSV reads 100,000 rows of transactions.
func BenchmarkReadCSV(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("txn_id,amount,hour,country,card_present\n")
	countries := []string{"US", "GB", "DE", "FR", "NL", "ES"}
	for i := range 100000 {
		fmt.Fprintf(&buf, "t%07d,%d.%02d,%d,%s,%t\n", i, i%5000, i%100, i%24, countries[i%6], i%3 > 0)
	}
	fsys := fstest.MapFS{"t.csv": {Data: buf.Bytes()}}
	specs := []Spec{
		{Name: "txn_id", Type: String, Keep: Hashes},
		{Name: "amount", Type: Float, Keep: Values},
		{Name: "hour", Type: Int, Keep: Values},
		{Name: "country", Type: String, Keep: Distinct},
		{Name: "card_present", Type: Bool, Keep: Distinct},
	}
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		if _, err := Read(context.Background(), fsys, "t.csv", specs, generous); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCSVLimits: rows are counted as they are read and refused past the limit;
// a header wider than the limit is refused before any row is read.
func TestCSVLimits(t *testing.T) {
	fsys := fstest.MapFS{"current.csv": {Data: []byte("a,b,c\n" + strings.Repeat("1,2,3\n", 50))}}
	specs := []Spec{{Name: "a", Type: Int, Keep: Values}}
	for _, c := range []struct {
		limits Limits
		want   string
	}{
		{Limits{Rows: 49, Columns: 3}, "current.csv: more than 49 rows, the limit; raise limits.rows in .modelgate/config.yaml"},
		{Limits{Rows: 50, Columns: 2}, "current.csv: more than 2 columns, the limit; raise limits.columns in .modelgate/config.yaml"},
	} {
		_, err := Read(context.Background(), fsys, "current.csv", specs, c.limits)
		var le *LimitError
		if !errors.As(err, &le) || err.Error() != c.want {
			t.Errorf("limits %+v: error %v, want %q", c.limits, err, c.want)
		}
	}
	if tb, err := Read(context.Background(), fsys, "current.csv", specs, Limits{Rows: 50, Columns: 3}); err != nil || tb.Rows != 50 {
		t.Errorf("at the limits: %v", err)
	}
}

// TestPlainRecords: the one-pass parser of records without quotes splits every
// record it takes as the general parser does, and takes every record without
// quotes.
func TestPlainRecords(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	alphabet := []byte("a1,,\n\r\" .e")
	var fast, general recordParser
	for range 200000 {
		data := make([]byte, rng.IntN(40))
		for i := range data {
			data[i] = alphabet[rng.IntN(len(alphabet))]
		}
		pos := 0
		if len(data) > 0 {
			pos = rng.IntN(len(data))
		}
		if len(data) == 0 {
			continue
		}
		if _, ok := lineEnd(data, pos); ok {
			continue
		}
		fast.fields = fast.fields[:0]
		next, newlines, ok := fast.plain(data, pos)
		line := data[pos:]
		if nl := bytes.IndexByte(line, '\n'); nl >= 0 {
			line = line[:nl]
		}
		if quoted := bytes.IndexByte(line, '"') >= 0; ok == quoted {
			t.Fatalf("plain(%q, %d) ok = %v", data, pos, ok)
		}
		if !ok {
			continue
		}
		gNext, gNewlines, err := general.general(data, pos)
		if err != nil || next != gNext || newlines != gNewlines || !slices.EqualFunc(fast.fields, general.fields, bytes.Equal) {
			t.Fatalf("plain(%q, %d) = %q, %d, %d; general %q, %d, %d, %v", data, pos, fast.fields, next, newlines, general.fields, gNext, gNewlines, err)
		}
	}
}

// TestLookupShortValues has a block's dictionary tell apart every pair of
// values of one to five bytes from an alphabet with a NUL, and values of six to
// nine bytes that share their first and last four, whichever comes first.
func TestLookupShortValues(t *testing.T) {
	vals := []string{""}
	var short []string
	for range 5 {
		var next []string
		for _, v := range vals {
			for _, c := range "ab\x00" {
				next = append(next, v+string(c))
			}
		}
		short = append(short, next...)
		vals = next
	}
	long := []string{"abcdabcd", "abcdXabcd", "abcdYabcd", "abcdbcd", "abcdacd", "abcd\x00bcd"}
	for _, set := range [][]string{short, long} {
		for _, a := range set {
			for _, b := range set {
				if a == b {
					continue
				}
				p := newPart(&Spec{Name: "c", Type: String, Keep: Values}, 4)
				if ca, cb, ca2 := p.lookup([]byte(a)), p.lookup([]byte(b)), p.lookup([]byte(a)); ca != 0 || cb != 1 || ca2 != 0 {
					t.Fatalf("%q then %q: codes %d, %d, %d; want 0, 1, 0", a, b, ca, cb, ca2)
				}
			}
		}
	}
}

// TestLongRowLine: a row that never ends is refused at the line where it
// starts, counting the lines of every block before it.
func TestLongRowLine(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("a,b\n")
	for range 300000 {
		b.WriteString("1,2\n")
	}
	b.WriteString("3,\"")
	b.Write(bytes.Repeat([]byte("x"), 2*maxRecord))
	_, err := readString(t, b.String(), Spec{Name: "a", Type: Int})
	var se *SyntaxError
	if !errors.As(err, &se) || se.Line != 300002 || !strings.Contains(se.Msg, "longer than 64 MiB") {
		t.Fatalf("error = %v, want one at line 300002", err)
	}
}
