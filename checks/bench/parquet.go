package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// The rows of a case's files with the types pandas gives them, written as
// pyarrow writes a DataFrame: low-cardinality strings dictionary-encoded, a row
// group of up to 1Mi rows.
type transactionRow struct {
	TxnID       string  `parquet:"txn_id"`
	Amount      float64 `parquet:"amount"`
	Hour        int64   `parquet:"hour"`
	Country     string  `parquet:"country,dict"`
	CardPresent bool    `parquet:"card_present"`
}

type predictionRow struct {
	TxnID      string  `parquet:"txn_id"`
	Label      int64   `parquet:"label"`
	Score      float64 `parquet:"score"`
	Prediction int64   `parquet:"prediction"`
	Sex        string  `parquet:"sex,dict"`
	AgeBand    string  `parquet:"age_band,dict"`
}

// codecs are the compressions a Parquet case may be written with.
var codecs = map[string]compress.Codec{"snappy": &snappy.Codec{}, "zstd": &zstd.Codec{}}

// toParquet writes the case in from, a CSV case, into dir as Parquet files
// compressed with codec, and a manifest that names them.
func toParquet(from, dir, codec string) error {
	c, ok := codecs[codec]
	if !ok {
		return fmt.Errorf("no Parquet compression %q (want snappy or zstd)", codec)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	m := strings.ReplaceAll(manifest, ".csv", ".parquet")
	if err := os.WriteFile(filepath.Join(dir, "model.yaml"), []byte(m), 0o644); err != nil {
		return err
	}
	for _, name := range []string{"reference", "current", "predictions", "baseline"} {
		var err error
		if strings.HasPrefix(name, "pred") || name == "baseline" {
			err = convert(filepath.Join(from, name+".csv"), filepath.Join(dir, name+".parquet"), c, parsePrediction)
		} else {
			err = convert(filepath.Join(from, name+".csv"), filepath.Join(dir, name+".parquet"), c, parseTransaction)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func parseTransaction(rec []string) (r transactionRow, err error) {
	r.TxnID, r.Country = rec[0], rec[3]
	if r.Amount, err = strconv.ParseFloat(rec[1], 64); err != nil {
		return r, err
	}
	if r.Hour, err = strconv.ParseInt(rec[2], 10, 64); err != nil {
		return r, err
	}
	r.CardPresent, err = strconv.ParseBool(rec[4])
	return r, err
}

func parsePrediction(rec []string) (r predictionRow, err error) {
	r.TxnID, r.Sex, r.AgeBand = rec[0], rec[4], rec[5]
	if r.Label, err = strconv.ParseInt(rec[1], 10, 64); err != nil {
		return r, err
	}
	if r.Score, err = strconv.ParseFloat(rec[2], 64); err != nil {
		return r, err
	}
	r.Prediction, err = strconv.ParseInt(rec[3], 10, 64)
	return r, err
}

func convert[T any](from, to string, codec compress.Codec, parse func([]string) (T, error)) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	r := csv.NewReader(in)
	r.ReuseRecord = true
	if _, err := r.Read(); err != nil { // the header
		out.Close()
		return err
	}
	w := parquet.NewGenericWriter[T](out, parquet.Compression(codec), parquet.MaxRowsPerRowGroup(1<<20))
	rows := make([]T, 0, 4096)
	flush := func() error {
		_, err := w.Write(rows)
		rows = rows[:0]
		return err
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			out.Close()
			return err
		}
		row, err := parse(rec)
		if err != nil {
			out.Close()
			return err
		}
		if rows = append(rows, row); len(rows) == cap(rows) {
			if err := flush(); err != nil {
				out.Close()
				return err
			}
		}
	}
	if err := flush(); err != nil {
		out.Close()
		return err
	}
	if err := w.Close(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
