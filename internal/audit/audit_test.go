package audit

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name    string
		entry   Entry
		want    string
		wantErr bool
	}{
		{name: "empty payload", entry: Entry{Kind: KindMerge}, want: `{}`},
		{name: "blank payload", entry: Entry{Kind: KindMerge, Payload: json.RawMessage(" \n")}, want: `{}`},
		{name: "compacted", entry: Entry{Kind: KindGate, Payload: json.RawMessage(`{ "b": [1, 2],  "a": "x y" }`)}, want: `{"b":[1,2],"a":"x y"}`},
		{name: "no kind", entry: Entry{Payload: json.RawMessage(`{}`)}, wantErr: true},
		{name: "array", entry: Entry{Kind: KindGate, Payload: json.RawMessage(`[1]`)}, wantErr: true},
		{name: "null", entry: Entry{Kind: KindGate, Payload: json.RawMessage(`null`)}, wantErr: true},
		{name: "string", entry: Entry{Kind: KindGate, Payload: json.RawMessage(`"x"`)}, wantErr: true},
		{name: "invalid JSON", entry: Entry{Kind: KindGate, Payload: json.RawMessage(`{"a":`)}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.entry.Normalize()
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidEntry) {
					t.Fatalf("Normalize() error = %v, want ErrInvalidEntry", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Normalize() error = %v", err)
			}
			if string(got.Payload) != tt.want {
				t.Errorf("payload = %s, want %s", got.Payload, tt.want)
			}
		})
	}
}
