package graphtest

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// jsonField / jsonObject give deterministic, Graph-like property order in
// responses (encoding/json sorts map keys, which would put "@odata.context"
// somewhere in the middle).
type jsonField struct {
	Key   string
	Value any
}

type jsonObject []jsonField

func (o jsonObject) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := json.Marshal(f.Key)
		if err != nil {
			return nil, fmt.Errorf("marshal key %q: %w", f.Key, err)
		}
		buf.Write(k)
		buf.WriteByte(':')
		v, err := json.Marshal(f.Value)
		if err != nil {
			return nil, fmt.Errorf("marshal %q: %w", f.Key, err)
		}
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// nullable renders "" as JSON null, which is how Graph reports unset strings.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own response types are marshalled; failure is a programming error.
		panic(fmt.Sprintf("graphtest: marshal response: %v", err))
	}
	return b
}
