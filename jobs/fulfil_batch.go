package jobs

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/partnerhub/partnerhub/payment"
)

// Concurrent fulfil workers share their starts (payment.StartFulfilMany)
// and successes (payment.RecordSuccessMany): at hundreds of jobs a second,
// Postgres's fixed work per statement is most of a job's cost
// (docs/benchmarks.md). Nothing waits to fill a batch: a request goes out
// at once when a statement slot is free, and those that arrive while all
// slots are busy go together in the next statement. Each request is still
// decided alone and committed before its worker goes on, so the
// exactly-once rules (attempt.go) do not change.
const (
	// batchMax bounds one statement's requests.
	batchMax = 64
	// batchSlots is how many batch statements of a kind run at once. One:
	// with two, batches halved and Postgres's CPU per fulfilment rose by
	// half, for no faster fulfilments (docs/benchmarks.md).
	batchSlots = 1
	// batchTimeout bounds one batch, its statement and any retries of its
	// requests one by one; its requests fail with it.
	batchTimeout = 10 * time.Second
)

// batcher runs requests of one kind together. run answers a batch (out[i]
// for reqs[i]), or fails it whole; a batch of several that fails is run
// again one request at a time, so one request's error (a row the statement
// refuses) is its own. key says which requests must not share a
// statement (the same record twice).
type batcher[Req, Res any] struct {
	run func(ctx context.Context, reqs []Req) ([]Res, []error, error)
	key func(Req) int64

	mu      sync.Mutex
	pending []*batchCall[Req, Res]
	running int
}

type batchCall[Req, Res any] struct {
	req  Req
	res  Res
	err  error
	done chan struct{}
}

// do runs req in the next batch and waits for its answer. It takes no
// context: a request that went out is answered within batchTimeout, and
// its caller must know whether it was counted or recorded.
func (b *batcher[Req, Res]) do(req Req) (Res, error) {
	c := &batchCall[Req, Res]{req: req, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, c)
	lead := b.running < batchSlots
	if lead {
		b.running++
	}
	b.mu.Unlock()
	if lead {
		go b.drain()
	}
	<-c.done
	return c.res, c.err
}

// drain runs batches until nothing is pending, then frees its slot.
func (b *batcher[Req, Res]) drain() {
	for {
		b.mu.Lock()
		batch := b.take()
		if len(batch) == 0 {
			b.running--
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
		b.exec(ctx, batch)
		cancel()
	}
}

// take removes up to batchMax pending requests with distinct keys, oldest
// first; a duplicate waits for a later batch. Called with mu held.
func (b *batcher[Req, Res]) take() []*batchCall[Req, Res] {
	var batch, rest []*batchCall[Req, Res]
	seen := make(map[int64]bool, min(len(b.pending), batchMax))
	for _, c := range b.pending {
		k := b.key(c.req)
		if len(batch) == batchMax || seen[k] {
			rest = append(rest, c)
			continue
		}
		seen[k] = true
		batch = append(batch, c)
	}
	b.pending = rest
	return batch
}

// exec runs batch and answers its requests. A batch of several that fails
// before its deadline is run again one request at a time within the same
// deadline (a database that does not answer fails them all, once).
func (b *batcher[Req, Res]) exec(ctx context.Context, batch []*batchCall[Req, Res]) {
	reqs := make([]Req, len(batch))
	for i, c := range batch {
		reqs[i] = c.req
	}
	out, errs, err := b.run(ctx, reqs)
	if err != nil && len(batch) > 1 && ctx.Err() == nil {
		for _, c := range batch {
			b.exec(ctx, []*batchCall[Req, Res]{c})
		}
		return
	}
	for i, c := range batch {
		switch {
		case err != nil:
			c.err = err
		case errs != nil && errs[i] != nil:
			c.err = errs[i]
		default:
			c.res = out[i]
		}
		close(c.done)
	}
}

// fulfilBatches are the fulfil workers' shared statements.
type fulfilBatches struct {
	payments *payment.Service
	start    batcher[payment.FulfilStart, payment.FulfilStarted]
	succeed  batcher[payment.Success, payment.SuccessRecorded]
}

func newFulfilBatches(payments *payment.Service) *fulfilBatches {
	fb := &fulfilBatches{}
	fb.start.key = func(r payment.FulfilStart) int64 { return r.PaymentID }
	fb.start.run = func(ctx context.Context, reqs []payment.FulfilStart) ([]payment.FulfilStarted, []error, error) {
		out, found, err := payments.StartFulfilMany(ctx, reqs)
		if err != nil {
			return nil, nil, err
		}
		errs := make([]error, len(reqs))
		for i := range reqs {
			if !found[i] {
				errs[i] = fmt.Errorf("start fulfilment: payment %d: %w", reqs[i].PaymentID, payment.ErrNotFound)
			}
		}
		return out, errs, nil
	}
	fb.succeed.key = func(r payment.Success) int64 { return r.F.ID }
	fb.succeed.run = func(ctx context.Context, recs []payment.Success) ([]payment.SuccessRecorded, []error, error) {
		out, err := payments.RecordSuccessMany(ctx, recs)
		return out, nil, err
	}
	fb.payments = payments
	return fb
}

// startFulfil is payment.StartFulfil through the shared statements.
func (fb *fulfilBatches) startFulfil(req payment.FulfilStart) (payment.FulfilStarted, error) {
	return fb.start.do(req)
}

// recordSuccess is payment.RecordSuccess through the shared statements; a
// success that queues a fulfilment report takes its own transaction, out
// of the batch, so that no batch waits for it.
func (fb *fulfilBatches) recordSuccess(ctx context.Context, rec payment.Success) (bool, error) {
	res, err := fb.succeed.do(rec)
	if err != nil || !res.NeedsTx {
		return res.Succeeded, err
	}
	return fb.payments.Succeed(ctx, rec.F.ID, rec.ResultRef)
}
