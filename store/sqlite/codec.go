package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// timeLayout is fixed-width (always nine fraction digits, always UTC "Z") so that text order is time order and
// SQL can compare due/expiry columns directly. RFC3339Nano trims trailing zeros and would sort wrongly.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// fmtTime renders t in UTC; callers use it for NOT NULL columns.
func fmtTime(t time.Time) string {
	return t.UTC().Format(timeLayout)
}

// nullTime renders t, or NULL for the zero time so "not set" stays distinguishable in SQL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return fmtTime(t)
}

// parseTime reads a time column; NULL or empty is the zero time. The result is always in UTC.
func parseTime(s sql.NullString) (time.Time, error) {
	if !s.Valid || s.String == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(timeLayout, s.String)
	if err != nil {
		return time.Time{}, fmt.Errorf("sqlite: bad time %q: %w", s.String, err)
	}
	return t.UTC(), nil
}

// parseTimes parses several time columns into their destinations, stopping at the first error.
func parseTimes(pairs ...timeDest) error {
	for _, p := range pairs {
		t, err := parseTime(p.src)
		if err != nil {
			return err
		}
		*p.dst = t
	}
	return nil
}

type timeDest struct {
	src sql.NullString
	dst *time.Time
}

// toJSON encodes a small struct column (Actor, MessageRef).
func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("sqlite: encode %T: %w", v, err)
	}
	return string(b), nil
}

// fromJSON decodes a JSON column; empty text leaves v at its zero value.
func fromJSON(s string, v any) error {
	if s == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("sqlite: decode %T: %w", v, err)
	}
	return nil
}
