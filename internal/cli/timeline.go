package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/partnerhub/partnerhub/client"
)

// timelineLine is one line of a payment's readable timeline.
type timelineLine struct {
	At   time.Time
	What string // payment, request, event, hold, fulfil, reverse, report
	Text string
}

// timelineLines puts everything get-payment returned about a payment in
// time order: when partnerhub first heard of it, each request about it,
// each event and whether it was applied, the hold, each fulfilment and
// reversal attempt (start and end) and the report to Pay1st. Lines at the
// same instant keep that order (a request before the event it carried).
func timelineLines(p *client.PaymentTimeline) []timelineLine {
	var out []timelineLine
	add := func(at time.Time, what, format string, a ...any) {
		if !at.IsZero() {
			out = append(out, timelineLine{At: at, What: what, Text: fmt.Sprintf(format, a...)})
		}
	}
	add(p.CreatedAt, "payment", "first heard of: %s %s, customer %d, %s, partner reference %s",
		p.Amount, p.CurrencyCode, p.CustomerId, orDash(&p.PaymentMethod), orDash(&p.PartnerReference))
	if p.Deliveries != nil {
		for _, d := range *p.Deliveries {
			text := fmt.Sprintf("#%d %s %s, answered %d", d.Id, d.Kind, d.Verdict, d.StatusCode)
			if d.Reason != nil && *d.Reason != "" {
				text += ": " + *d.Reason
			}
			add(d.ReceivedAt, "request", "%s", text)
		}
	}
	var events []client.TimelineEvent
	if p.Events != nil {
		events = *p.Events
	}
	for _, ev := range events {
		var how string
		switch {
		case ev.Applied:
			how = "applied"
		case ev.Flagged:
			how = "flagged, not applied: " + orDash(ev.FlagReason)
		default:
			how = "not applied: older than the status"
		}
		text := fmt.Sprintf("%s (updated %s) %s", ev.Status, timeCell(ev.UpdatedDate), how)
		if ev.DeliveryId != nil && *ev.DeliveryId != 0 {
			text += fmt.Sprintf(" [request #%d]", *ev.DeliveryId)
		}
		add(ev.ReceivedAt, "event", "%s", text)
	}
	if p.HeldAt != nil {
		state := "held for review"
		if !p.OnHold {
			state = "was held for review (released since)"
		}
		add(*p.HeldAt, "hold", "%s: %s", state, orDash(p.HoldReason))
	}
	if p.Fulfilments != nil {
		for _, f := range *p.Fulfilments {
			out = append(out, fulfilmentLines(f)...)
		}
	}
	if r := p.Report; r != nil {
		add(r.FulfilledAt, "report", "the game was credited: to be reported to Pay1st")
		if r.ReportedAt != nil {
			add(*r.ReportedAt, "report", "accepted by Pay1st after %d attempt(s): %s", r.Attempts, products(r.Products))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// fulfilmentLines are a fulfilment's (or reversal's) attempts, each started
// and finished, and its success.
func fulfilmentLines(f client.PaymentFulfilment) []timelineLine {
	what := string(f.Kind)
	var out []timelineLine
	if f.History != nil {
		for _, a := range *f.History {
			plugin := ""
			if a.PluginId != nil {
				plugin = fmt.Sprintf(" (plugin %d)", *a.PluginId)
			}
			out = append(out, timelineLine{At: a.StartedAt, What: what, Text: fmt.Sprintf("attempt %d started%s", a.Number, plugin)})
			if a.FinishedAt == nil {
				continue
			}
			text := fmt.Sprintf("attempt %d %s", a.Number, a.Outcome)
			if a.Reason != nil && *a.Reason != "" {
				text += ": " + *a.Reason
			}
			out = append(out, timelineLine{At: *a.FinishedAt, What: what, Text: text})
		}
	}
	if f.SucceededAt != nil {
		out = append(out, timelineLine{At: *f.SucceededAt, What: what,
			Text: fmt.Sprintf("succeeded, the plugin's reference %s", orDash(f.ResultReference))})
	}
	return out
}

func products(ps *[]client.ReportedProduct) string {
	if ps == nil || len(*ps) == 0 {
		return "no products"
	}
	parts := make([]string, 0, len(*ps))
	for _, p := range *ps {
		parts = append(parts, fmt.Sprintf("%s x%d", p.Sku, p.Quantity))
	}
	return strings.Join(parts, ", ")
}

// paymentSummary is the block above the timeline: where the payment stands.
func paymentSummary(p *client.PaymentTimeline) [][]string {
	held := "no"
	if p.OnHold {
		held = "yes: " + orDash(p.HoldReason) + " (partnerhub payments release-hold)"
	}
	rows := [][]string{
		{"reference", p.Reference},
		{"partner reference", orDash(&p.PartnerReference)},
		{"status", fmt.Sprintf("%s (since %s)", p.Status, timeCell(p.StatusUpdatedAt))},
		{"amount", fmt.Sprintf("%s %s in %s, customer %d, %s", p.Amount, p.CurrencyCode, p.CountryCode, p.CustomerId, orDash(&p.PaymentMethod))},
		{"on hold", held},
	}
	if p.Fulfilments != nil {
		for _, f := range *p.Fulfilments {
			text := fmt.Sprintf("%s after %d attempt(s)", f.State, f.Attempts)
			if f.State != "succeeded" && f.LastError != nil && *f.LastError != "" {
				text += ": " + *f.LastError
			}
			rows = append(rows, []string{string(f.Kind), text})
		}
	}
	if r := p.Report; r != nil {
		text := fmt.Sprintf("%s after %d attempt(s)", r.State, r.Attempts)
		if r.State != "succeeded" && r.LastError != nil && *r.LastError != "" {
			text += ": " + *r.LastError
		}
		rows = append(rows, []string{"report", text})
	}
	return rows
}

// writeTimeline writes the summary, then the timeline, one line each:
// time, what, text.
func writeTimeline(w io.Writer, p *client.PaymentTimeline, lines []timelineLine) error {
	if err := writeTable(w, nil, paymentSummary(p)); err != nil {
		return err
	}
	fmt.Fprintln(w, "\ntimeline (UTC):")
	rows := make([][]string, 0, len(lines))
	for _, l := range lines {
		rows = append(rows, []string{"  " + l.At.UTC().Format("2006-01-02 15:04:05.000"), l.What, l.Text})
	}
	if err := writeTable(w, nil, rows); err != nil {
		return err
	}
	if p.Truncated {
		fmt.Fprintln(w, "  (more than 500 events or requests: only the newest are shown)")
	}
	return nil
}
