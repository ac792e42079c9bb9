package api

import (
	"container/list"
	"errors"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/tenant"
)

// Rate limiting of the Pay1st-facing endpoints: one token bucket per
// partnerCode, in memory on each node (so a cluster of n nodes admits up to
// n times the rate; Pay1st's retries make that harmless).
const (
	// maxRateBuckets bounds the limiter's memory: the least recently used
	// bucket is dropped beyond it (an idle bucket is full anyway, so
	// dropping it loses nothing).
	maxRateBuckets = 65536
	// refusalsRecordedPerSecond bounds what a flood costs the database: at
	// most this many refusals per tenant and second are recorded as
	// deliveries; the others are counted and the count is told in the next
	// recorded refusal's reason.
	refusalsRecordedPerSecond = 5
)

// rateLimiter is a set of token buckets keyed by partnerCode, kept in LRU
// order. Safe for concurrent use.
type rateLimiter struct {
	rate  float64 // tokens per second
	burst float64
	max   int
	now   func() time.Time

	mu      sync.Mutex
	lru     *list.List // of *bucket, most recently used first
	buckets map[string]*list.Element
}

type bucket struct {
	key    string
	tokens float64
	last   time.Time
	// Refusals recorded in the current second, and those left unrecorded
	// since the last recorded one.
	recSecond  int64
	recorded   int
	unrecorded int
}

// newRateLimiter returns nil (no limit) when rate is not positive.
func newRateLimiter(rate float64, burst int, now func() time.Time) *rateLimiter {
	if rate <= 0 {
		return nil
	}
	b := float64(burst)
	if b < 1 {
		b = math.Max(1, rate)
	}
	return &rateLimiter{rate: rate, burst: b, max: maxRateBuckets, now: now,
		lru: list.New(), buckets: make(map[string]*list.Element)}
}

// verdict is what the limiter decided about one request.
type verdict struct {
	allowed    bool
	retryAfter time.Duration // when refused: until one token is back
	record     bool          // when refused: record this refusal
	unrecorded int           // when recorded: refusals left unrecorded before it
}

// take spends a token of key's bucket.
func (l *rateLimiter) take(key string) verdict {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var b *bucket
	if el, ok := l.buckets[key]; ok {
		l.lru.MoveToFront(el)
		b = el.Value.(*bucket)
		if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
			b.tokens = math.Min(l.burst, b.tokens+elapsed*l.rate)
		}
		b.last = now
	} else {
		b = &bucket{key: key, tokens: l.burst, last: now}
		l.buckets[key] = l.lru.PushFront(b)
		for l.lru.Len() > l.max {
			oldest := l.lru.Back()
			l.lru.Remove(oldest)
			delete(l.buckets, oldest.Value.(*bucket).key)
		}
	}
	if b.tokens >= 1 {
		b.tokens--
		return verdict{allowed: true}
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	v := verdict{retryAfter: wait}
	if sec := now.Unix(); sec != b.recSecond {
		b.recSecond, b.recorded = sec, 0
	}
	if b.recorded < refusalsRecordedPerSecond {
		b.recorded++
		v.record, v.unrecorded, b.unrecorded = true, b.unrecorded, 0
	} else {
		b.unrecorded++
	}
	return v
}

// size is the number of buckets held.
func (l *rateLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// limited wraps a Pay1st-facing handler with the per-tenant rate limit.
func (h *WebhookHandler) limited(next http.HandlerFunc, kind string) http.HandlerFunc {
	if h.limiter == nil {
		return next
	}
	return func(w http.ResponseWriter, r *http.Request) {
		v := h.limiter.take(clip(r.PathValue("partnerCode"), 100))
		if v.allowed {
			next(w, r)
			return
		}
		secs := int64(math.Ceil(v.retryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
		d := h.newDelivery(r, kind)
		msg := "rate limit exceeded; retry after " + strconv.FormatInt(max(secs, 1), 10) + "s"
		if !v.record {
			markRejected(r.Context(), d, http.StatusTooManyRequests, pay1st.CodeRateLimited, msg)
			writeJSON(w, http.StatusTooManyRequests, pay1st.ErrorBody{ErrorMessage: msg, ErrorCode: pay1st.CodeRateLimited, SessionID: d.SessionID})
			return
		}
		ctx := r.Context()
		if env, err := h.tenants.Env(ctx, r.PathValue("partnerCode"), r.PathValue("env")); err == nil {
			d.TenantID = env.TenantID
		} else if !errors.Is(err, tenant.ErrNotFound) {
			h.logger.WarnContext(ctx, "cannot resolve tenant of a rate-limited request", "err", err)
		}
		reason := msg
		if v.unrecorded > 0 {
			reason += " (" + strconv.Itoa(v.unrecorded) + " earlier refusals not recorded)"
		}
		h.rejectReason(ctx, w, d, http.StatusTooManyRequests, pay1st.CodeRateLimited, msg, reason)
	}
}
