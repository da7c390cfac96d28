package graph

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	khttp "github.com/microsoft/kiota-http-go"
)

// gzipWriters are reused across requests: a gzip.Writer holds about a megabyte of compressor state.
var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(io.Discard) }}

// pooledCompression does what kiota's CompressionHandler does — gzip every request body, and send it again
// uncompressed if Graph answers 415 — with its gzip writers reused. kiota allocates a new writer for every
// request; at a run's pace of $batch requests (revocations and read-backs) those writers were most of what the bot
// allocated, which the garbage collector then had to keep up with.
type pooledCompression struct{}

var _ khttp.Middleware = pooledCompression{}

func (pooledCompression) Intercept(pipeline khttp.Pipeline, middlewareIndex int, req *http.Request) (*http.Response, error) {
	if req.Body == nil || req.Body == http.NoBody || req.Header.Get("Content-Encoding") != "" ||
		strings.Contains(strings.ToLower(req.Header.Get("Content-Range")), "bytes") {
		return pipeline.Next(req, middlewareIndex)
	}
	raw, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("graph: read request body: %w", err)
	}
	var buf bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(&buf)
	_, err = zw.Write(raw)
	if err == nil {
		err = zw.Close()
	}
	gzipWriters.Put(zw)
	if err != nil {
		return nil, fmt.Errorf("graph: compress request body: %w", err)
	}
	zipped := buf.Bytes()
	req.Header.Set("Content-Encoding", "gzip")
	req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(zipped)), int64(len(zipped))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(zipped)), nil }
	resp, err := pipeline.Next(req, middlewareIndex)
	if err != nil || resp.StatusCode != http.StatusUnsupportedMediaType {
		return resp, err
	}
	// The server takes no compressed bodies: the same request, as it was.
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	req.Header.Del("Content-Encoding")
	req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(raw)), int64(len(raw))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }
	return pipeline.Next(req, middlewareIndex)
}
