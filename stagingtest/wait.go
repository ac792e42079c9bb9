package stagingtest

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/partnerhub/partnerhub/payment"
)

// poll calls check every pollEvery until it reports done or the wait ends;
// it reports whether check was done.
func (r *runner) poll(check func() (done bool)) bool {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		if check() {
			return true
		}
		select {
		case <-r.ctx.Done():
			return check()
		case <-tick.C:
		}
	}
}

// fulfilment waits for the fulfil job to have the plugin credit the player.
func (r *runner) fulfilment() bool {
	var f payment.Fulfilment
	var err error
	r.poll(func() bool {
		f, err = r.s.cfg.Payments.Fulfilment(r.ctx, r.paymentID, payment.KindFulfil)
		return err == nil && f.State != payment.StatePending
	})
	switch {
	case errors.Is(err, payment.ErrNotFound) || (err != nil && r.ctx.Err() != nil):
		return r.step(StepFulfilment, ResultPending, "the fulfil job has not called the plugin yet")
	case err != nil:
		return r.step(StepFulfilment, ResultFailed, "could not read the fulfilment")
	case f.State == payment.StateFailed:
		return r.step(StepFulfilment, ResultFailed, fmt.Sprintf("the plugin did not credit it after %d attempts: %s", f.Attempts, f.LastError))
	case f.State == payment.StatePending:
		detail := fmt.Sprintf("the plugin has not credited it yet (%d attempts", f.Attempts)
		if f.LastError != "" {
			detail += ", last error: " + f.LastError
		}
		return r.step(StepFulfilment, ResultPending, detail+")")
	}
	return r.step(StepFulfilment, ResultOK, fmt.Sprintf("the plugin credited player %d (its reference %q)", r.tx.PlayerID, f.ResultReference))
}

// report waits for the fulfilment report to reach the simulator.
func (r *runner) report() bool {
	done := r.poll(func() bool { return len(r.s.cfg.Simulator.Fulfilments(r.tx.Reference)) > 0 })
	if !done {
		return r.step(StepReport, ResultPending, "the fulfilment report has not reached the simulator yet")
	}
	var lines []string
	for _, p := range r.s.cfg.Simulator.Fulfilments(r.tx.Reference)[0].Products {
		lines = append(lines, fmt.Sprintf("%s × %d %s", p.SKU, p.Quantity, p.FulfilmentStatus))
	}
	return r.step(StepReport, ResultOK, "the simulator accepted the signed fulfilment report: "+strings.Join(lines, ", "))
}
