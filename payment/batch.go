package payment

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/tenant"
)

// ErrBatcherClosed is returned by Batcher.IngestEvent once Close has begun:
// the event was not recorded and the webhook asks Pay1st to retry.
var ErrBatcherClosed = errors.New("payment: ingest batcher is closed")

// batchTimeout bounds one shared transaction. It does not follow any
// caller's context: an event already in a batch is committed or rolled back
// with its batch-mates, never cut out of it by one caller hanging up.
const batchTimeout = 30 * time.Second

// BatchConfig tunes a Batcher. Zero values take the defaults.
type BatchConfig struct {
	// MaxWait is how long the first event of a batch waits for company
	// before its batch is committed; 0 commits as soon as a committer is
	// free (events still share commits while every committer is busy).
	MaxWait time.Duration
	// MaxEvents caps the events of one transaction (default 64).
	MaxEvents int
	// Committers is how many batches may be in flight at once (default 4).
	Committers int
	// Queue caps the events waiting for a batch (default 1024); past it,
	// callers wait for room (or their context).
	Queue  int
	Logger *slog.Logger
}

// Batcher is group commit for IngestEvent: it gathers concurrent events for
// at most MaxWait (or MaxEvents of them) and records them in one transaction
// with Service.IngestEventTx, so that many webhooks share one commit instead
// of paying one each. Durability is unchanged: every caller gets its
// own result only after the shared commit, and the commit's error if it
// fails, so nothing is acknowledged that was not committed. One event's
// failure is answered to its caller alone: the batch then runs again with a
// savepoint around each event, and only the failing one is rolled back.
type Batcher struct {
	svc     *Service
	pool    *pgxpool.Pool
	cfg     BatchConfig
	queue   chan *ingestRequest
	batches chan []*ingestRequest
	// mu guards closed against sends on the closing queue: senders hold it
	// shared; Close takes it exclusively.
	mu     sync.RWMutex
	closed bool
	wg     sync.WaitGroup
}

type ingestRequest struct {
	ctx  context.Context
	env  tenant.Env
	d    Delivery
	ev   pay1st.PaymentEvent
	done chan ingestResult // buffered: a committer never waits for a caller
}

type ingestResult struct {
	res Ingested
	err error
}

// NewBatcher starts a Batcher over svc's pool; Close stops it.
func NewBatcher(svc *Service, cfg BatchConfig) *Batcher {
	if cfg.MaxEvents <= 0 {
		cfg.MaxEvents = 64
	}
	if cfg.Committers <= 0 {
		cfg.Committers = 4
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 1024
	}
	if cfg.MaxWait < 0 {
		cfg.MaxWait = 0
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Batcher{
		svc: svc, pool: svc.pool, cfg: cfg,
		queue:   make(chan *ingestRequest, cfg.Queue),
		batches: make(chan []*ingestRequest),
	}
	b.wg.Add(1 + cfg.Committers)
	go b.collect()
	for range cfg.Committers {
		go b.commit()
	}
	return b
}

// IngestEvent is Service.IngestEvent through a shared transaction: it
// returns once the event's batch has committed (or failed). When ctx ends
// first it returns ctx's error; the event may still be committed if its
// batch had started, which a retry from Pay1st finds as a duplicate.
func (b *Batcher) IngestEvent(ctx context.Context, env tenant.Env, d Delivery, ev pay1st.PaymentEvent) (Ingested, error) {
	r := &ingestRequest{ctx: ctx, env: env, d: d, ev: ev, done: make(chan ingestResult, 1)}
	if err := b.enqueue(ctx, r); err != nil {
		return Ingested{}, err
	}
	select {
	case out := <-r.done:
		return out.res, out.err
	case <-ctx.Done():
		return Ingested{}, fmt.Errorf("wait for ingest batch: %w", ctx.Err())
	}
}

func (b *Batcher) enqueue(ctx context.Context, r *ingestRequest) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrBatcherClosed
	}
	select {
	case b.queue <- r:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("queue payment event: %w", ctx.Err())
	}
}

// Close stops taking events, commits those already queued and waits for
// every batch in flight. Call it before closing the pool.
func (b *Batcher) Close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.queue)
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// collect forms batches: from the first queued event it gathers more until
// MaxWait passes or MaxEvents are in; while every committer is busy it keeps
// gathering, so load turns into larger batches rather than a longer queue.
func (b *Batcher) collect() {
	defer b.wg.Done()
	defer close(b.batches)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		first, ok := <-b.queue
		if !ok {
			return
		}
		batch := make([]*ingestRequest, 0, b.cfg.MaxEvents)
		batch = b.add(batch, first)
		open := true
		if b.cfg.MaxWait > 0 {
			timer.Reset(b.cfg.MaxWait)
		gather:
			for len(batch) < b.cfg.MaxEvents {
				select {
				case r, more := <-b.queue:
					if !more {
						open = false
						break gather
					}
					batch = b.add(batch, r)
				case <-timer.C:
					break gather
				}
			}
			timer.Stop()
		}
		// Hand over, taking more events while the committers are busy.
		for sent := false; !sent; {
			in := b.queue
			if !open || len(batch) >= b.cfg.MaxEvents {
				in = nil
			}
			select {
			case b.batches <- batch:
				sent = true
			case r, more := <-in:
				if !more {
					open = false
					continue
				}
				batch = b.add(batch, r)
			}
		}
		if !open {
			// Closed: the queue is drained; the remaining events were in batch.
			return
		}
	}
}

// add appends r unless its caller already gave up: an event whose webhook
// was answered with an error is better not recorded at all.
func (b *Batcher) add(batch []*ingestRequest, r *ingestRequest) []*ingestRequest {
	if err := r.ctx.Err(); err != nil {
		r.done <- ingestResult{err: fmt.Errorf("queue payment event: %w", err)}
		return batch
	}
	return append(batch, r)
}

func (b *Batcher) commit() {
	defer b.wg.Done()
	for batch := range b.batches {
		if len(batch) > 0 {
			b.run(batch)
		}
	}
}

// run records a batch in one transaction and answers every caller.
func (b *Batcher) run(batch []*ingestRequest) {
	// One lock order for every batch: the payment rows (and the unique
	// index entries of events and jobs) are taken by (tenant, environment,
	// reference), so two batches never deadlock on each other. Events of one
	// payment keep their arrival order.
	slices.SortStableFunc(batch, func(x, y *ingestRequest) int {
		return cmp.Or(cmp.Compare(x.env.TenantID, y.env.TenantID), cmp.Compare(x.env.Name, y.env.Name),
			cmp.Compare(x.ev.Reference, y.ev.Reference))
	})
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	results := make([]ingestResult, len(batch))
	// Optimistically the whole batch at once, its statements pipelined
	// stage by stage (IngestEventsTx); when an event fails, the transaction
	// is lost and the batch runs again one event at a time, each inside a
	// savepoint, so only that one fails.
	var failed *eventFailed
	err := b.runTx(ctx, batch, results, false)
	if errors.As(err, &failed) {
		if len(batch) == 1 {
			results[0].err, err = failed.err, nil
		} else {
			err = b.runTx(ctx, batch, results, true)
		}
	}
	for i, r := range batch {
		if err != nil {
			// Nothing of the batch is committed: every caller hears so.
			r.done <- ingestResult{err: err}
			continue
		}
		r.done <- results[i]
	}
	if err != nil {
		b.cfg.Logger.Error("ingest batch failed; its events are answered 503", "events", len(batch), "err", err)
	}
}

// eventFailed is one event's failure in a batch run without savepoints.
type eventFailed struct{ err error }

func (e *eventFailed) Error() string { return e.err.Error() }

func (b *Batcher) runTx(ctx context.Context, batch []*ingestRequest, results []ingestResult, savepoints bool) error {
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin ingest batch: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if !savepoints {
		in := make([]*Ingest, len(batch))
		for i, r := range batch {
			in[i] = &Ingest{Env: r.env, Delivery: r.d, Event: r.ev, Trace: trace.SpanContextFromContext(r.ctx)}
		}
		if err := b.svc.IngestEventsTx(ctx, tx, in); err != nil {
			return &eventFailed{err: err}
		}
		for i, it := range in {
			results[i].res = it.Result
		}
	} else {
		for i, r := range batch {
			if results[i].res, results[i].err, err = b.runOne(ctx, tx, r); err != nil {
				return err
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit ingest batch: %w", err)
	}
	return nil
}

// runOne records one event inside its own savepoint. Its own failure rolls
// back the savepoint and is the event's result; a failure to manage the
// savepoint breaks the whole transaction and is returned as fatal.
func (b *Batcher) runOne(ctx context.Context, tx pgx.Tx, r *ingestRequest) (res Ingested, evErr, fatal error) {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return res, nil, fmt.Errorf("savepoint: %w", err)
	}
	// The event's own trace (its request's span), with the batch's deadline.
	res, evErr = b.svc.IngestEventTx(trace.ContextWithSpanContext(ctx, trace.SpanContextFromContext(r.ctx)), sp, r.env, r.d, r.ev)
	if evErr != nil {
		if err := sp.Rollback(ctx); err != nil {
			return res, evErr, fmt.Errorf("rollback to savepoint: %w", err)
		}
		return Ingested{}, evErr, nil
	}
	if err := sp.Commit(ctx); err != nil {
		return res, nil, fmt.Errorf("release savepoint: %w", err)
	}
	return res, nil, nil
}
