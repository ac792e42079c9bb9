package payment_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

func delivery(t *testing.T, ev pay1st.PaymentEvent) payment.Delivery {
	t.Helper()
	body, err := json.Marshal(ev)
	require.NoError(t, err)
	return payment.Delivery{SessionID: "s", PartnerCode: "acme", Env: "staging", RemoteAddr: "127.0.0.1:1",
		Headers: map[string]string{}, Body: body}
}

func newBatcher(t *testing.T, b bundle, cfg payment.BatchConfig) *payment.Batcher {
	t.Helper()
	bt := payment.NewBatcher(b.payments, cfg)
	t.Cleanup(bt.Close)
	return bt
}

type outcome struct {
	res payment.Ingested
	err error
}

// ingestAll sends evs at once, one goroutine each, and returns the outcomes
// in evs' order.
func ingestAll(t *testing.T, bt *payment.Batcher, env tenant.Env, evs []pay1st.PaymentEvent) []outcome {
	t.Helper()
	out := make([]outcome, len(evs))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, ev := range evs {
		d := delivery(t, ev)
		wg.Go(func() {
			<-start
			out[i].res, out[i].err = bt.IngestEvent(context.Background(), env, d, ev)
		})
	}
	close(start)
	wg.Wait()
	return out
}

// TestBatcherConcurrentEvents: N goroutines × M events, each event sent
// twice (the second time in another round, so within and across batches):
// exactly one payment, event and job per distinct event, every delivery kept.
func TestBatcherConcurrentEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bt := newBatcher(t, b, payment.BatchConfig{MaxWait: 2 * time.Millisecond, MaxEvents: 16, Committers: 3})
	const workers, perWorker = 16, 12
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted, duplicates := 0, 0
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				// Worker w sends references w*perWorker+i, and also the
				// reference its neighbour sends: duplicates race each other.
				for _, n := range []int{w*perWorker + i, ((w+1)%workers)*perWorker + i} {
					ev := event(fmt.Sprintf("C-B-%d-P", n), pay1st.StatusSuccessful, t0)
					res, err := bt.IngestEvent(context.Background(), b.env, delivery(t, ev), ev)
					if !assertNoError(t, err) {
						return
					}
					mu.Lock()
					if res.Duplicate {
						duplicates++
					} else {
						accepted++
						if !res.Enqueued {
							t.Errorf("reference %d: accepted SUCCESSFUL event queued no fulfilment", n)
						}
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	const distinct = workers * perWorker
	require.Equal(t, distinct, accepted)
	require.Equal(t, distinct, duplicates)
	require.Equal(t, distinct, b.count(t, `SELECT count(*) FROM payments`))
	require.Equal(t, distinct, b.count(t, `SELECT count(*) FROM payment_events`))
	require.Equal(t, distinct, b.count(t, `SELECT count(*) FROM river_job WHERE kind = 'fulfil'`))
	require.Equal(t, distinct, b.count(t, `SELECT count(*) FROM deliveries WHERE verdict = 'accepted'`))
	require.Equal(t, distinct, b.count(t, `SELECT count(*) FROM deliveries WHERE verdict = 'duplicate'`))
}

func assertNoError(t *testing.T, err error) bool {
	t.Helper()
	if err != nil {
		t.Errorf("ingest: %v", err)
		return false
	}
	return true
}

// TestBatcherSamePaymentInOneBatch: events of one payment sharing a
// transaction see each other: the duplicate is found, the later status wins
// whatever the order, and the fulfilment is queued once.
func TestBatcherSamePaymentInOneBatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bt := newBatcher(t, b, payment.BatchConfig{MaxWait: 300 * time.Millisecond, MaxEvents: 10, Committers: 1})
	succ := event("C-S-P", pay1st.StatusSuccessful, t0.Add(time.Minute))
	out := ingestAll(t, bt, b.env, []pay1st.PaymentEvent{
		event("C-S-P", pay1st.StatusPending, t0), succ, succ, event("C-S-P", pay1st.StatusPending, t0),
	})
	dups, enqueued := 0, 0
	for _, o := range out {
		require.NoError(t, o.err)
		if o.res.Duplicate {
			dups++
		}
		if o.res.Enqueued {
			enqueued++
		}
	}
	require.Equal(t, 2, dups)
	require.Equal(t, 1, enqueued)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM payments WHERE status = 'SUCCESSFUL'`))
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM payment_events`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM river_job WHERE kind = 'fulfil'`))
	require.Equal(t, 4, b.count(t, `SELECT count(*) FROM deliveries`))
}

// TestBatcherBadEventAlone: an event that fails (here, for a tenant that
// does not exist) gets its error; its batch-mates are committed.
func TestBatcherBadEventAlone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bt := newBatcher(t, b, payment.BatchConfig{MaxWait: 300 * time.Millisecond, MaxEvents: 10, Committers: 1})
	ghost := b.env
	ghost.TenantID = 1 << 40
	evs := []pay1st.PaymentEvent{event("C-G1-P", pay1st.StatusSuccessful, t0), event("C-BAD-P", pay1st.StatusSuccessful, t0),
		event("C-G2-P", pay1st.StatusPending, t0)}
	out := make([]outcome, len(evs))
	var wg sync.WaitGroup
	for i, ev := range evs {
		env := b.env
		if i == 1 {
			env = ghost
		}
		wg.Go(func() { out[i].res, out[i].err = bt.IngestEvent(context.Background(), env, delivery(t, ev), ev) })
	}
	wg.Wait()
	require.NoError(t, out[0].err)
	require.Error(t, out[1].err)
	require.NoError(t, out[2].err)
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM payments`))
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM payments WHERE reference = 'C-BAD-P'`))
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM deliveries`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM river_job WHERE kind = 'fulfil'`))
}

// TestBatcherCommitFailureAnswersAll: when the shared commit fails (a
// deferred constraint refuses one payment), every event of the batch is
// answered with an error and none is recorded.
func TestBatcherCommitFailureAnswersAll(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.pool.Exec(context.Background(), `
		CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.reference = 'C-BOOM-P' THEN RAISE EXCEPTION 'boom at commit'; END IF;
			RETURN NULL;
		END $$;
		CREATE CONSTRAINT TRIGGER refuse_boom AFTER INSERT ON payments
			DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_boom();`)
	require.NoError(t, err)
	bt := newBatcher(t, b, payment.BatchConfig{MaxWait: 500 * time.Millisecond, MaxEvents: 10, Committers: 1})
	out := ingestAll(t, bt, b.env, []pay1st.PaymentEvent{
		event("C-OK1-P", pay1st.StatusSuccessful, t0), event("C-BOOM-P", pay1st.StatusSuccessful, t0),
		event("C-OK2-P", pay1st.StatusPending, t0),
	})
	for i, o := range out {
		require.ErrorContains(t, o.err, "commit ingest batch", "event %d", i)
	}
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM payments`))
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM deliveries`))
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM river_job`))

	// The batcher goes on: the next batch commits.
	ev := event("C-OK3-P", pay1st.StatusPending, t0)
	_, err = bt.IngestEvent(context.Background(), b.env, delivery(t, ev), ev)
	require.NoError(t, err)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM payments`))
}

// TestBatcherLostConnection: the pool closing under a batch fails the whole
// batch for every caller; nothing is acknowledged.
func TestBatcherLostConnection(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bt := newBatcher(t, b, payment.BatchConfig{MaxWait: 200 * time.Millisecond, MaxEvents: 10, Committers: 1})
	b.pool.Close()
	out := ingestAll(t, bt, b.env, []pay1st.PaymentEvent{
		event("C-L1-P", pay1st.StatusSuccessful, t0), event("C-L2-P", pay1st.StatusPending, t0),
	})
	for _, o := range out {
		require.Error(t, o.err)
	}
}

// TestBatcherCancelledAndClosed: a caller that gave up before its event was
// taken is not recorded; after Close, events are refused.
func TestBatcherCancelledAndClosed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bt := payment.NewBatcher(b.payments, payment.BatchConfig{MaxWait: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ev := event("C-X-P", pay1st.StatusSuccessful, t0)
	_, err := bt.IngestEvent(ctx, b.env, delivery(t, ev), ev)
	require.ErrorIs(t, err, context.Canceled)

	ev2 := event("C-Y-P", pay1st.StatusSuccessful, t0)
	res, err := bt.IngestEvent(context.Background(), b.env, delivery(t, ev2), ev2)
	require.NoError(t, err)
	require.True(t, res.Enqueued)
	bt.Close()
	_, err = bt.IngestEvent(context.Background(), b.env, delivery(t, ev), ev)
	require.ErrorIs(t, err, payment.ErrBatcherClosed)
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM payments WHERE reference = 'C-X-P'`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM payments`))
}
