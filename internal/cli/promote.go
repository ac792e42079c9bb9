package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/partnerhub/partnerhub/client"
)

func promoteCommand() *Command {
	return &Command{Name: "promote", Summary: "copy staging's catalog and settings to production, showing the diff first", Run: promote,
		Usage: `Usage: partnerhub promote --tenant CODE [--dry-run | --check | --yes]

Makes production's catalog and settings equal to staging's: products matched
by name, bundles by SKU, the callback URLs, the IP allow-list and the active
plugin. Never copied: credentials, the auth mode, Pay1st productBundleIds.

First asks the server for a dry run and shows the diff (create/update/delete
per product, bundle and setting; on stderr with --output json), then applies
it in one transaction: if any change is refused, nothing is applied.
Promoting twice changes nothing the second time.

After a yes it asks for the dry run again: if the plan changed meanwhile, it
shows the new one and asks again. The server plans once more when it
applies: if that differs from the last diff shown, what was applied is
printed. The diff names fields, not values (see docs/cli.md).

  --dry-run  show the diff only
  --check    show the diff only; exit 1 when there is one (for CI)
  --yes      apply without asking (needed when stdin is not a terminal)

Any answer but y applies nothing: exit 1.`}
}

var promotionHeaders = []string{"ACTION", "KIND", "KEY", "FIELDS"}

func promotionRows(p *client.Promotion) [][]string {
	var rows [][]string
	if p.Changes == nil {
		return rows
	}
	for _, c := range *p.Changes {
		var f string
		if c.Fields != nil {
			f = strings.Join(*c.Fields, ",")
		}
		rows = append(rows, []string{string(c.Action), string(c.Kind), c.Key, f})
	}
	return rows
}

func promotionCount(p *client.Promotion) int {
	if p.Changes == nil {
		return 0
	}
	return len(*p.Changes)
}

// maxReplans bounds how often promote asks again because the plan changed
// while the person was answering.
const maxReplans = 3

func promote(ctx context.Context, e *Env, args []string) error {
	fs := newFlags("promote")
	tenant := fs.String("tenant", "", "tenant code")
	af := addApplyFlags(fs)
	_, err := parseArgs(fs, args, needTenant(tenant))
	if err != nil {
		return err
	}
	if err := af.validate(); err != nil {
		return err
	}
	plan, err := promoteCall(ctx, e, *tenant, true)
	if err != nil {
		return err
	}
	what := "production of " + *tenant
	n := promotionCount(plan.p)
	if n == 0 {
		if e.JSON {
			return writeJSON(e.Out, plan.p)
		}
		e.Printf("No changes: production of %s already matches staging.\n", *tenant)
		return nil
	}
	if *af.dryRun || *af.check {
		if err := e.Render(plan.p, promotionHeaders, promotionRows(plan.p)); err != nil {
			return err
		}
		if *af.check {
			return fmt.Errorf("%d change(s) to %s: %w", n, what, ErrFailed)
		}
		return nil
	}
	// The diff goes before the question in both modes (stderr with
	// --output json). The server plans again when it applies; a person may
	// take long to answer, so after a yes the plan is asked for again and,
	// if it differs in anything the API returns, shown and asked again.
	for asked := 1; ; asked++ {
		if err := writeTable(e.notes(), promotionHeaders, promotionRows(plan.p)); err != nil {
			return err
		}
		q := fmt.Sprintf("Promote staging to production of %s (%d change(s))?", *tenant, promotionCount(plan.p))
		if err := e.confirm(ctx, *af.yes, q); err != nil {
			return err
		}
		if *af.yes {
			break // asked for just before: nothing to re-check
		}
		again, err := promoteCall(ctx, e, *tenant, true)
		if err != nil {
			return err
		}
		if samePlan(plan, again) {
			break
		}
		plan = again
		if promotionCount(plan.p) == 0 {
			e.Printf("Nothing applied: staging or production changed meanwhile, and production now matches staging.\n")
			return nil
		}
		if asked >= maxReplans {
			return fmt.Errorf("promote %s: the plan changed %d times while asking: not applied, run it again: %w", *tenant, asked, ErrFailed)
		}
		fmt.Fprintf(e.notes(), "\nStaging or production changed since the diff above; the plan is now:\n")
	}
	done, err := promoteCall(ctx, e, *tenant, false)
	if err != nil {
		return err
	}
	// The applied changes are the server's, computed in its transaction:
	// if staging or production moved after the last preview, they differ
	// from it; say so, with what was applied (stderr with --output json,
	// whose stdout is the applied promotion).
	if !samePlan(plan, done) {
		fmt.Fprintf(e.notes(), "\nThe catalog or settings changed since the preview; applied instead:\n")
		if err := writeTable(e.notes(), promotionHeaders, promotionRows(done.p)); err != nil {
			return err
		}
	}
	if e.JSON {
		return writeJSON(e.Out, done.p)
	}
	e.Printf("Promoted: %d change(s) applied to %s.\n", promotionCount(done.p), what)
	return nil
}

// promotion is create-promotion's answer, decoded and as sent.
type promotion struct {
	p   *client.Promotion
	raw []byte
}

func promoteCall(ctx context.Context, e *Env, tenant string, dryRun bool) (promotion, error) {
	op, check := "promote "+tenant, "partnerhub promote --tenant "+tenant+" --dry-run (shows what is left)"
	if dryRun {
		op, check = "preview the promotion of "+tenant, ""
	}
	r, err := e.Client.CreatePromotionWithResponse(ctx, tenant, client.CreatePromotionJSONRequestBody{DryRun: &dryRun})
	if err := call(op, check, err, statusOf(r), bodyOf(r)); err != nil {
		return promotion{}, err
	}
	p, err := decoded(op, check, r, r.JSON200)
	if err != nil {
		return promotion{}, err
	}
	return promotion{p: p, raw: r.Body}, nil
}

// samePlan compares two answers' changes as the server sent them, every
// field included (not only what the table shows, nor only what this
// client's type knows). The API returns no values, only which fields
// differ: a value that changed between two plans with the same fields
// goes unseen (docs/cli.md).
func samePlan(a, b promotion) bool {
	var ca, cb struct {
		Changes any `json:"changes"`
	}
	if json.Unmarshal(a.raw, &ca) != nil || json.Unmarshal(b.raw, &cb) != nil {
		return false
	}
	return reflect.DeepEqual(ca.Changes, cb.Changes)
}
