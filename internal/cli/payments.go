package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/partnerhub/partnerhub/client"
)

const paymentsUsage = `Usage: partnerhub payments COMMAND --tenant CODE [--env staging|production] ...

A tenant environment's payments as Pay1st's events left them, each with a
readable timeline of what happened to it.
`

func paymentsCommand() *Command {
	return &Command{Name: "payments", Summary: "list payments, show one's timeline, release a hold, retry a report",
		Usage: paymentsUsage,
		Sub: []*Command{
			{Name: "list", Summary: "list payments, newest first, with filters", Usage: paymentsListUsage, Run: paymentsList},
			{Name: "show", Summary: "show a payment and its timeline", Usage: paymentsShowUsage, Run: paymentsShow},
			{Name: "release-hold", Summary: "release a held payment (operators)", Usage: releaseHoldUsage, Run: paymentsReleaseHold},
			{Name: "retry-report", Summary: "retry a payment's fulfilment report to Pay1st now", Usage: retryReportUsage, Run: paymentsRetryReport},
		}}
}

const paymentsListUsage = `Usage: partnerhub payments list --tenant CODE [--env staging|production] [filters] [--all | --limit N --cursor C]

Lists payments newest first. Filters combine:
  --status STATUS          current status (SUCCESSFUL, PENDING, FAILED, REFUND, ...)
  --from TIME, --to TIME   first heard of at or after / before (RFC 3339, e.g. 2026-03-17T00:00:00Z)
  --reference REF          Pay1st's reference
  --partner-reference REF  the game's order reference
  --customer ID            one customer's payments
  --on-hold true|false     only held, or only not held

One page by default (--limit, 1-200; the next page's --cursor is printed on
stderr); --all follows every page (up to 100000 payments). --output json
prints a JSON array of the API's payments.
`

const paymentsShowUsage = `Usage: partnerhub payments show --tenant CODE [--env staging|production] REFERENCE

Shows the payment, where its fulfilment and report stand, and its timeline in
time order: each request about it, each event (applied, stale or flagged),
the hold, every fulfilment and reversal attempt, and the report to Pay1st.
--output json prints the API's PaymentTimeline.
`

const releaseHoldUsage = `Usage: partnerhub payments release-hold --tenant CODE [--env ENV] --note TEXT REFERENCE

Releases a payment held because its amount or currency differed from what
partnerhub expected, and queues what its status implies (its fulfilment, or
a reversal). The note says why; it is kept in the audit log. Operator keys.
`

const retryReportUsage = `Usage: partnerhub payments retry-report --tenant CODE [--env ENV] REFERENCE

Has the report of a gateway payment's fulfilment to Pay1st tried again now
(after fixing what Pay1st refused, e.g. the credentials). A succeeded report,
or one being sent right now, is refused (exit 4); a payment without a report
is not found (exit 3).
`

var paymentHeaders = []string{"REFERENCE", "STATUS", "AMOUNT", "CURRENCY", "CUSTOMER", "PARTNER REF", "HELD", "FIRST HEARD"}

func paymentRow(p client.Payment) []string {
	held := "no"
	if p.OnHold {
		held = "yes"
	}
	return []string{p.Reference, p.Status, p.Amount, p.CurrencyCode, fmt.Sprint(p.CustomerId), orDash(&p.PartnerReference),
		held, timeCell(p.CreatedAt)}
}

// listPaging are the paging flags of a list: one page, or --all.
type listPaging struct {
	all    bool
	limit  int64
	cursor string
}

func pagingFlags(fs *flag.FlagSet) *listPaging {
	p := &listPaging{}
	fs.BoolVar(&p.all, "all", false, "")
	fs.Int64Var(&p.limit, "limit", 0, "")
	fs.StringVar(&p.cursor, "cursor", "", "")
	return p
}

func (p *listPaging) check() error {
	switch {
	case p.limit < 0 || p.limit > 200:
		return usageErrorf("--limit must be 1 to 200")
	case p.all && p.cursor != "":
		return usageErrorf("--all starts at the first page: drop --cursor")
	}
	return nil
}

// size is the page size to ask for: the flag's, or the API's maximum when
// following every page.
func (p *listPaging) size() *int64 {
	switch {
	case p.limit > 0:
		return ptr(p.limit)
	case p.all:
		return ptr(pageSize)
	}
	return nil
}

func paymentsList(ctx context.Context, e *Env, args []string) error {
	fs := newFlags("payments list")
	sc := scopeFlags(fs, true)
	pg := pagingFlags(fs)
	var status, from, to, ref, pref, onHold string
	var customer int64
	fs.StringVar(&status, "status", "", "")
	fs.StringVar(&from, "from", "", "")
	fs.StringVar(&to, "to", "", "")
	fs.StringVar(&ref, "reference", "", "")
	fs.StringVar(&pref, "partner-reference", "", "")
	fs.Int64Var(&customer, "customer", 0, "")
	fs.StringVar(&onHold, "on-hold", "", "")
	_, err := parseArgs(fs, args, sc.check)
	if err != nil {
		return err
	}
	if err := pg.check(); err != nil {
		return err
	}
	params := &client.ListPaymentsParams{Limit: pg.size()}
	if pg.cursor != "" {
		params.Cursor = &pg.cursor
	}
	if status != "" {
		params.Status = ptr(client.ListPaymentsParamsStatus(status))
	}
	for _, t := range []struct {
		flag, v string
		dst     **time.Time
	}{{"--from", from, &params.From}, {"--to", to, &params.To}} {
		if t.v == "" {
			continue
		}
		at, err := time.Parse(time.RFC3339, t.v)
		if err != nil {
			return usageErrorf("%s must be an RFC 3339 time (2026-03-17T00:00:00Z), not %q", t.flag, t.v)
		}
		*t.dst = &at
	}
	if ref != "" {
		params.Reference = &ref
	}
	if pref != "" {
		params.PartnerReference = &pref
	}
	if customer < 0 {
		return usageErrorf("--customer must be a customer id")
	} else if customer > 0 {
		params.CustomerId = &customer
	}
	switch onHold {
	case "":
	case "true", "false":
		params.OnHold = ptr(client.ListPaymentsParamsOnHold(onHold))
	default:
		return usageErrorf("--on-hold must be true or false")
	}

	pgr := newPager("list payments")
	items, next, err := follow(pgr, params.Cursor, pg.all, func(cursor *string) ([]client.Payment, *string, error) {
		params.Cursor = cursor
		resp, err := e.Client.ListPaymentsWithResponse(ctx, sc.tenant, sc.env, params)
		if err := call(pgr.op, "", err, statusOf(resp), bodyOf(resp)); err != nil {
			return nil, nil, err
		}
		got, err := decoded(pgr.op, "", resp, resp.JSON200)
		if err != nil {
			return nil, nil, err
		}
		return itemsOf(got.Items), got.NextCursor, nil
	})
	if err != nil {
		return err
	}
	return renderPaged(e, pgr, items, next, "payments", "narrow the filters (--from/--to) to see the rest", paymentHeaders, paymentRow)
}

// paymentRef parses `--tenant CODE [--env ENV] REFERENCE` plus extra flags
// registered by more.
func paymentRef(name string, args []string, more func(fs *flag.FlagSet)) (*scope, string, error) {
	fs := newFlags(name)
	sc := scopeFlags(fs, true)
	if more != nil {
		more(fs)
	}
	pos, err := parseArgs(fs, args, sc.check, "REFERENCE")
	if err != nil {
		return nil, "", err
	}
	return sc, pos[0], nil
}

func paymentsShow(ctx context.Context, e *Env, args []string) error {
	sc, ref, err := paymentRef("payments show", args, nil)
	if err != nil {
		return err
	}
	op := "show payment " + ref
	resp, err := e.Client.GetPaymentWithResponse(ctx, sc.tenant, sc.env, ref)
	if err := call(op, "", err, statusOf(resp), bodyOf(resp)); err != nil {
		return err
	}
	p, err := decoded(op, "", resp, resp.JSON200)
	if err != nil {
		return err
	}
	if e.JSON {
		return writeJSON(e.Out, p)
	}
	return writeTimeline(e.Out, p, timelineLines(p))
}

func paymentsReleaseHold(ctx context.Context, e *Env, args []string) error {
	var note string
	sc, ref, err := paymentRef("payments release-hold", args, func(fs *flag.FlagSet) {
		fs.StringVar(&note, "note", "", "")
	})
	if err != nil {
		return err
	}
	if note == "" {
		return usageErrorf("--note is required: why the payment may proceed (kept in the audit log)")
	}
	resp, err := e.Client.ReleasePaymentHoldWithResponse(ctx, sc.tenant, sc.env, ref, client.ReleasePaymentHoldJSONRequestBody{Note: note})
	check := fmt.Sprintf("partnerhub payments show --tenant %s --env %s %s", sc.tenant, sc.env, ref)
	if err := call("release hold of "+ref, check, err, statusOf(resp), bodyOf(resp)); err != nil {
		return err
	}
	r, err := decoded("release hold of "+ref, check, resp, resp.JSON200)
	if err != nil {
		return err
	}
	if e.JSON {
		return e.Render(r, nil, nil)
	}
	queued := "nothing queued (its status calls for no fulfilment or reversal)"
	switch {
	case r.FulfilQueued && r.ReverseQueued:
		queued = "its fulfilment and a reversal were queued"
	case r.FulfilQueued:
		queued = "its fulfilment was queued"
	case r.ReverseQueued:
		queued = "a reversal was queued"
	}
	e.Printf("released %s (%s): %s\n", r.Reference, r.Status, queued)
	return nil
}

func paymentsRetryReport(ctx context.Context, e *Env, args []string) error {
	sc, ref, err := paymentRef("payments retry-report", args, nil)
	if err != nil {
		return err
	}
	resp, err := e.Client.RetryPaymentReportWithResponse(ctx, sc.tenant, sc.env, ref)
	check := fmt.Sprintf("partnerhub payments show --tenant %s --env %s %s", sc.tenant, sc.env, ref)
	if err := call("retry report of "+ref, check, err, statusOf(resp), bodyOf(resp)); err != nil {
		return err
	}
	r, err := decoded("retry report of "+ref, check, resp, resp.JSON200)
	if err != nil {
		return err
	}
	if e.JSON {
		return e.Render(r, nil, nil)
	}
	e.Printf("report of %s: %s, to be tried now (%d attempt(s) so far)\n", ref, r.State, r.Attempts)
	return nil
}
