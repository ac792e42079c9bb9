package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/partnerhub/partnerhub/client"
)

const fulfilmentsUsage = `Usage: partnerhub fulfilments COMMAND --tenant CODE ...

A tenant's fulfilment and reversal records: what partnerhub asked its plugin
to do for each payment. Those the plugin rejected or that ran out of
attempts are failed; retry them by hand, one by one or in bulk. Retries keep
the attempt history and give the plugin the same idempotency key.
`

func fulfilmentsCommand() *Command {
	return &Command{Name: "fulfilments", Summary: "list fulfilments (--state failed) and retry failed ones",
		Usage: fulfilmentsUsage,
		Sub: []*Command{
			{Name: "list", Summary: "list fulfilment records, newest first", Usage: fulfilmentsListUsage, Run: fulfilmentsList},
			{Name: "retry", Summary: "retry failed fulfilments: by id, or --all-failed", Usage: fulfilmentsRetryUsage, Run: fulfilmentsRetry},
		}}
}

const fulfilmentsListUsage = `Usage: partnerhub fulfilments list --tenant CODE [--state pending|succeeded|failed]
                                  [--kind fulfil|reverse] [--env staging|production] [--all | --limit N --cursor C]

Lists fulfilment records newest first (both environments unless --env).
--state failed lists what needs a decision. One page by default (the next
page's --cursor is printed on stderr); --all follows every page. --output
json prints a JSON array of the API's records.
`

const fulfilmentsRetryUsage = `Usage: partnerhub fulfilments retry --tenant CODE ID...
       partnerhub fulfilments retry --tenant CODE --all-failed [--env ENV] [--kind fulfil|reverse] [--max N]

Puts failed records back to pending, each with a new job. One ID uses
retry-fulfilment: a record that is not failed is refused (exit 4). Several
IDs, or --all-failed (the oldest --max failed records matching --env and
--kind, 100 by default, at most 1000), use the bulk retry, which lists what
was queued again and what was skipped and why; with IDs, any skipped one
makes the exit code 1. When more failed records match than --max, it says
so: run it again.
`

// maxBulkRetry is the API's bound on one bulk retry.
const maxBulkRetry = 1000

var fulfilmentHeaders = []string{"ID", "ENV", "KIND", "STATE", "REFERENCE", "PAYMENT", "ATTEMPTS", "LAST ERROR", "UPDATED"}

func fulfilmentRow(f client.Fulfilment) []string {
	return []string{fmt.Sprint(f.Id), string(f.Environment), string(f.Kind), string(f.State), f.Reference, f.PaymentStatus,
		fmt.Sprint(f.Attempts), orDash(f.LastError), timeCell(f.UpdatedAt)}
}

func fulfilmentsList(ctx context.Context, e *Env, args []string) error {
	fs := newFlags("fulfilments list")
	sc := scopeFlags(fs, false)
	pg := pagingFlags(fs)
	var state, kind, env string
	fs.StringVar(&state, "state", "", "")
	fs.StringVar(&kind, "kind", "", "")
	fs.StringVar(&env, "env", "", "")
	_, err := parseArgs(fs, args, sc.check)
	if err != nil {
		return err
	}
	if err := pg.check(); err != nil {
		return err
	}
	params := &client.ListFulfilmentsParams{Limit: pg.size()}
	if pg.cursor != "" {
		params.Cursor = &pg.cursor
	}
	switch state {
	case "":
	case "pending", "succeeded", "failed":
		params.State = ptr(client.ListFulfilmentsParamsState(state))
	default:
		return usageErrorf("--state must be pending, succeeded or failed")
	}
	if err := checkKind(kind); err != nil {
		return err
	}
	if kind != "" {
		params.Kind = ptr(client.ListFulfilmentsParamsKind(kind))
	}
	if err := checkEnvName("--env", env, false); err != nil {
		return err
	}
	if env != "" {
		params.Environment = ptr(client.ListFulfilmentsParamsEnvironment(env))
	}

	pgr := newPager("list fulfilments")
	items, next, err := follow(pgr, params.Cursor, pg.all, func(cursor *string) ([]client.Fulfilment, *string, error) {
		params.Cursor = cursor
		resp, err := e.Client.ListFulfilmentsWithResponse(ctx, sc.tenant, params)
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
	return renderPaged(e, pgr, items, next, "records", "narrow the filters to see the rest", fulfilmentHeaders, fulfilmentRow)
}

func checkKind(kind string) error {
	if kind != "" && kind != "fulfil" && kind != "reverse" {
		return usageErrorf("--kind must be fulfil or reverse")
	}
	return nil
}

func fulfilmentsRetry(ctx context.Context, e *Env, args []string) error {
	fs := newFlags("fulfilments retry")
	sc := scopeFlags(fs, false)
	var allFailed bool
	var env, kind string
	var maxN int64
	fs.BoolVar(&allFailed, "all-failed", false, "")
	fs.StringVar(&env, "env", "", "")
	fs.StringVar(&kind, "kind", "", "")
	fs.Int64Var(&maxN, "max", 0, "")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := sc.check(); err != nil {
		return err
	}
	switch {
	case allFailed && len(pos) > 0:
		return usageErrorf("give IDs or --all-failed, not both")
	case !allFailed && len(pos) == 0:
		return usageErrorf("give the IDs to retry, or --all-failed")
	case !allFailed && (env != "" || kind != ""):
		return usageErrorf("--env and --kind select records for --all-failed only")
	case maxN < 0 || maxN > maxBulkRetry:
		return usageErrorf("--max must be 1 to %d", maxBulkRetry)
	}
	ids := make([]int64, 0, len(pos))
	for _, p := range pos {
		id, err := parseID("ID", p)
		if err != nil {
			return err
		}
		ids = append(ids, id)
	}
	if len(ids) > maxBulkRetry {
		return usageErrorf("at most %d IDs per retry", maxBulkRetry)
	}
	if len(ids) == 1 {
		return retryOne(ctx, e, sc.tenant, ids[0])
	}
	if err := checkEnvName("--env", env, false); err != nil {
		return err
	}
	if err := checkKind(kind); err != nil {
		return err
	}
	body := client.RetryFulfilmentsJSONRequestBody{Max: maxN}
	switch {
	case len(ids) > 0:
		body.Ids = &ids
		body.Max = int64(len(ids))
	case maxN == 0:
		body.Max = 100
	}
	if env != "" {
		body.Environment = ptr(client.RetryFulfilmentsInputBodyEnvironment(env))
	}
	if kind != "" {
		body.Kind = ptr(client.RetryFulfilmentsInputBodyKind(kind))
	}
	resp, err := e.Client.RetryFulfilmentsWithResponse(ctx, sc.tenant, body)
	check := fmt.Sprintf("partnerhub fulfilments list --tenant %s --state failed (retrying again is safe)", sc.tenant)
	if err := call("retry fulfilments", check, err, statusOf(resp), bodyOf(resp)); err != nil {
		return err
	}
	r, err := decoded("retry fulfilments", check, resp, resp.JSON200)
	if err != nil {
		return err
	}
	var requeued []client.Fulfilment
	var skipped []client.RetrySkipped
	if r.Requeued != nil {
		requeued = *r.Requeued
	}
	if r.Skipped != nil {
		skipped = *r.Skipped
	}
	if e.JSON {
		if err := e.Render(r, nil, nil); err != nil {
			return err
		}
	} else {
		e.Printf("queued again: %d\n", len(requeued))
		if len(requeued) > 0 {
			rows := make([][]string, 0, len(requeued))
			for _, f := range requeued {
				rows = append(rows, fulfilmentRow(f))
			}
			if err := writeTable(e.Out, fulfilmentHeaders, rows); err != nil {
				return err
			}
		}
		if len(skipped) > 0 {
			e.Printf("skipped: %d\n", len(skipped))
			rows := make([][]string, 0, len(skipped))
			for _, s := range skipped {
				rows = append(rows, []string{fmt.Sprint(s.Id), s.Reason})
			}
			if err := writeTable(e.Out, []string{"ID", "REASON"}, rows); err != nil {
				return err
			}
		}
		if r.More {
			e.Printf("more failed records match than --max: run it again\n")
		}
	}
	if len(ids) > 0 && len(skipped) > 0 {
		parts := make([]string, 0, len(skipped))
		for _, s := range skipped {
			parts = append(parts, fmt.Sprintf("%d (%s)", s.Id, s.Reason))
		}
		return fmt.Errorf("%w: not retried: %s", ErrFailed, strings.Join(parts, "; "))
	}
	return nil
}

func retryOne(ctx context.Context, e *Env, tenant string, id int64) error {
	resp, err := e.Client.RetryFulfilmentWithResponse(ctx, tenant, id)
	check := fmt.Sprintf("partnerhub fulfilments list --tenant %s (retrying again is safe: a record already queued is refused)", tenant)
	op := fmt.Sprintf("retry fulfilment %d", id)
	if err := call(op, check, err, statusOf(resp), bodyOf(resp)); err != nil {
		return err
	}
	f, err := decoded(op, check, resp, resp.JSON200)
	if err != nil {
		return err
	}
	if e.JSON {
		return e.Render(f, nil, nil)
	}
	e.Printf("fulfilment %d (%s of %s) queued again after %d attempt(s)\n", f.Id, f.Kind, f.Reference, f.Attempts)
	return nil
}
