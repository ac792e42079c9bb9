package jobs

import (
	"math"
	"time"

	"github.com/riverqueue/river/rivertype"
)

// Retry schedule defaults.
const (
	// DefaultRetryHorizon is how long a fulfilment keeps being retried
	// (Config.RetryHorizon) before it is marked failed for an operator.
	DefaultRetryHorizon = 24 * time.Hour
	// retryBase is the first delay; each failure doubles it until the cap.
	retryBase = time.Second
	// minRetryCap keeps the longest delay at a minute or more, so a short
	// horizon or many attempts do not turn into a busy loop.
	minRetryCap = time.Minute
)

// RetryPolicy is the River ClientRetryPolicy of fulfil and reverse jobs:
// delays start at a second and double (seconds, then minutes) up to a cap
// chosen so that the job's attempts are spread over the horizon. A failure
// whose next try would fall past the horizon is the last one.
type RetryPolicy struct {
	horizon time.Duration
	cap     time.Duration
	now     func() time.Time
}

// NewRetryPolicy returns the schedule for maxAttempts attempts spread over
// horizon (DefaultRetryHorizon when zero).
func NewRetryPolicy(maxAttempts int, horizon time.Duration) *RetryPolicy {
	if horizon <= 0 {
		horizon = DefaultRetryHorizon
	}
	return &RetryPolicy{horizon: horizon, cap: retryCap(max(1, maxAttempts-1), horizon), now: time.Now}
}

// retryCap is the smallest delay cap (at least minRetryCap, at most the
// horizon) with which retries doubling from retryBase add up to the horizon.
func retryCap(retries int, horizon time.Duration) time.Duration {
	lo, hi := minRetryCap, max(horizon, minRetryCap)
	if total(retries, lo) >= horizon {
		return lo
	}
	for hi-lo > time.Second {
		mid := lo + (hi-lo)/2
		if total(retries, mid) >= horizon {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi.Truncate(time.Second)
}

func total(retries int, limit time.Duration) time.Duration {
	var sum time.Duration
	for n := 1; n <= retries; n++ {
		sum += delay(n, limit)
	}
	return sum
}

// delay is the wait after the n-th failure (1-based): retryBase doubled n-1
// times, capped.
func delay(n int, limit time.Duration) time.Duration {
	if n > 40 { // 2^40 s is far past any cap; avoid overflow
		return limit
	}
	return min(retryBase*time.Duration(math.Pow(2, float64(n-1))), limit)
}

// Delay is the wait after the n-th failure of a job, without jitter.
func (p *RetryPolicy) Delay(n int) time.Duration { return delay(n, p.cap) }

// NextRetry implements river.ClientRetryPolicy. River calls it after a
// failure, before the error is appended, so this is failure len(Errors)+1
// (snoozes are not failures). A jitter of up to 10%, fixed per job, keeps
// the jobs that failed together in an outage from retrying together.
func (p *RetryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	d := p.Delay(len(job.Errors) + 1)
	d += d * time.Duration(job.ID%100) / 1000
	return p.now().Add(d)
}

// last reports whether a failure now, the failures-th of a job created at
// created, is its last: the next try would come after the horizon.
func (p *RetryPolicy) last(created, now time.Time, failures int) bool {
	return now.Add(p.Delay(failures)).After(created.Add(p.horizon))
}
