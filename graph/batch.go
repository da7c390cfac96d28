package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
)

// batchLimit is Graph's maximum number of requests in one JSON $batch.
const batchLimit = 20

// max429Attempts stops an item that Graph keeps throttling from looping for ever; Retry-After waits are
// honoured each time, so reaching it means the tenant is throttled for many minutes.
const max429Attempts = 50

// itemResult is the final answer for one request sent through runBatches.
type itemResult struct {
	Status  int
	Body    map[string]any
	SentAt  time.Time // when the request that got this answer was sent (host clock)
	AckedAt time.Time // when its answer arrived (host clock); zero without an answer
	// RoundTrip is AckedAt - SentAt on the host's monotonic clock, kept apart because a wall-clock step
	// between the two must not distort it.
	RoundTrip time.Duration
	// GraphDate is the Date header of the HTTP response that carried the answer (for $batch: the outer
	// response), on Graph's clock; zero when it had none that parses.
	GraphDate time.Time
	Attempts  int
	Err       error // set when no HTTP answer could be had for the item
}

// batchSpec describes n independent requests to send through $batch.
type batchSpec struct {
	op    string
	n     int
	build func(ctx context.Context, i int) (*abstractions.RequestInformation, error)
	pace  *pacer   // nil for reads
	key   *paceKey // the caller's place in pace's round-robin
	// done receives the final answer of each index exactly once; it is called from several goroutines.
	done func(i int, r itemResult)
}

type queued struct {
	i         int
	attempts  int // counted failures other than 429
	throttles int
	notBefore time.Time
}

// workQueue hands out items ready to send and holds back those waiting for a Retry-After.
type workQueue struct {
	mu        sync.Mutex
	ready     []queued
	delayed   []queued
	remaining int
}

func (q *workQueue) take(max int) (batch []queued, wait time.Duration, finished bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.remaining == 0 {
		return nil, 0, true
	}
	now := time.Now()
	kept := q.delayed[:0]
	wait = 20 * time.Millisecond // items in flight elsewhere may come back for a retry
	for _, it := range q.delayed {
		if d := it.notBefore.Sub(now); d <= 0 {
			q.ready = append(q.ready, it)
		} else {
			kept = append(kept, it)
			wait = min(wait, d)
		}
	}
	q.delayed = kept
	n := min(max, len(q.ready))
	batch = append(batch, q.ready[:n]...)
	q.ready = q.ready[n:]
	return batch, wait, false
}

func (q *workQueue) retry(it queued, after time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it.notBefore = time.Now().Add(after)
	q.delayed = append(q.delayed, it)
}

func (q *workQueue) finish() {
	q.mu.Lock()
	q.remaining--
	q.mu.Unlock()
}

// runBatches sends spec.n requests as $batch calls of up to 20, with bounded concurrency. Each item is
// retried on its own (the SDK does not retry items inside a batch): 429 and 503 after their Retry-After,
// other transient errors with back-off. Every index reaches spec.done exactly once unless ctx ends first.
func (c *Client) runBatches(ctx context.Context, spec batchSpec) error {
	q := &workQueue{remaining: spec.n}
	for i := range spec.n {
		q.ready = append(q.ready, queued{i: i})
	}
	var once sync.Map
	finish := func(i int, r itemResult) {
		if _, dup := once.LoadOrStore(i, true); dup {
			return
		}
		spec.done(i, r)
		q.finish()
	}
	workers := min(c.cfg.Concurrency, (spec.n+batchLimit-1)/batchLimit)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- c.batchWorker(ctx, spec, q, finish)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *Client) batchWorker(ctx context.Context, spec batchSpec, q *workQueue, finish func(int, itemResult)) error {
	for {
		items, wait, finished := q.take(batchLimit)
		if finished {
			return nil
		}
		if len(items) == 0 {
			if err := sleep(ctx, wait); err != nil {
				return err
			}
			continue
		}
		if spec.pace != nil {
			if err := spec.pace.wait(ctx, spec.key, len(items)); err != nil {
				return err
			}
		}
		if err := c.sendBatch(ctx, spec, q, items, finish); err != nil {
			return err
		}
	}
}

// sendBatch sends one $batch and files every item as finished or to be retried.
func (c *Client) sendBatch(ctx context.Context, spec batchSpec, q *workQueue, items []queued, finish func(int, itemResult)) error {
	batch := msgraphcore.NewBatchRequest(c.adapter)
	ids := make(map[string]queued, len(items))
	for _, it := range items {
		info, err := spec.build(ctx, it.i)
		if err == nil {
			var step msgraphcore.BatchItem
			if step, err = batch.AddBatchRequestStep(*info); err == nil {
				ids[*step.GetId()] = it
				continue
			}
		}
		finish(it.i, itemResult{Err: fmt.Errorf("%s: building request: %w", spec.op, err), Attempts: it.attempts})
	}
	if len(ids) == 0 {
		return nil
	}
	// The holder learns the outer response's Date header (Graph's clock), which the SDK does not return.
	date := &dateHolder{}
	actx, cancel := c.attempt(withDateHolder(ctx, date))
	sentAt := time.Now()
	resp, err := batch.Send(actx, c.adapter)
	ackedAt := time.Now()
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.batchFailed(ctx, spec, q, ids, err, sentAt, finish)
		return nil
	}
	answered := 0
	throttled := time.Duration(0)
	for _, r := range resp.GetResponses() {
		it, ok := ids[deref(r.GetId())]
		if !ok {
			continue
		}
		delete(ids, deref(r.GetId()))
		answered++
		status := int(deref(r.GetStatus()))
		res := itemResult{Status: status, Body: r.GetBody(), SentAt: sentAt, AckedAt: ackedAt,
			RoundTrip: ackedAt.Sub(sentAt), GraphDate: date.get(), Attempts: it.attempts + it.throttles + 1}
		switch {
		case status == http.StatusTooManyRequests && it.throttles < max429Attempts:
			after := itemRetryAfter(r.GetHeaders())
			if after <= 0 {
				after = c.backoff(it.throttles + 1)
			}
			throttled = max(throttled, after)
			it.throttles++
			q.retry(it, after)
		case retryable(status) && it.attempts+1 < c.cfg.MaxAttempts:
			after := itemRetryAfter(r.GetHeaders())
			if after <= 0 {
				after = c.backoff(it.attempts + 1)
			}
			it.attempts++
			q.retry(it, after)
		default:
			finish(it.i, res)
		}
	}
	if spec.pace != nil {
		if throttled > 0 {
			spec.pace.throttled(sentAt, throttled)
		} else {
			spec.pace.succeeded(answered)
		}
	}
	// Graph answers every item; one that is missing is sent again rather than lost.
	for _, it := range ids {
		it.attempts++
		if it.attempts >= c.cfg.MaxAttempts {
			finish(it.i, itemResult{Err: fmt.Errorf("%s: $batch response had no answer for the item", spec.op), SentAt: sentAt, Attempts: it.attempts})
			continue
		}
		q.retry(it, c.backoff(it.attempts))
	}
	return nil
}

// batchFailed handles a $batch call that failed as a whole: every item in it shares the fate.
func (c *Client) batchFailed(ctx context.Context, spec batchSpec, q *workQueue, ids map[string]queued, err error, sentAt time.Time, finish func(int, itemResult)) {
	ae, after := apiError(err)
	c.log.InfoContext(ctx, "graph $batch failed", "op", spec.op, "err", err, "retry_after", after)
	throttled := ae != nil && ae.Status == http.StatusTooManyRequests
	if throttled && spec.pace != nil {
		spec.pace.throttled(sentAt, max(after, time.Second))
	}
	for _, it := range ids {
		switch {
		case throttled && it.throttles < max429Attempts:
			it.throttles++
			q.retry(it, max(after, c.backoff(it.throttles)))
		case (ae == nil || retryable(ae.Status)) && it.attempts+1 < c.cfg.MaxAttempts:
			it.attempts++
			if after <= 0 {
				after = c.backoff(it.attempts)
			}
			q.retry(it, after)
		default:
			res := itemResult{Err: err, SentAt: sentAt, Attempts: it.attempts + it.throttles + 1}
			if ae != nil {
				res.Status = ae.Status
				res.Err = ae
			}
			finish(it.i, res)
		}
	}
}

// decodeBody reads a batch item's body into v. The SDK hands bodies over as maps of kiota raw values
// (pointers), so a JSON round trip is the reliable way to read them.
func decodeBody(body map[string]any, v any) error {
	if body == nil {
		return nil
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

func itemRetryAfter(h msgraphcore.RequestHeader) time.Duration {
	for k, v := range h {
		if http.CanonicalHeaderKey(k) == "Retry-After" {
			return parseRetryAfter(v)
		}
	}
	return 0
}

// itemError reads Graph's {"error":{"code","message"}} out of a batch item's body.
func itemError(r itemResult) (code, message string) {
	if r.Err != nil {
		return "", r.Err.Error()
	}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = decodeBody(r.Body, &body)
	code, message = body.Error.Code, body.Error.Message
	if message == "" {
		message = http.StatusText(r.Status)
	}
	return code, message
}
