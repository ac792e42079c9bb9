package cli

import (
	"context"
	"fmt"
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
per product, bundle and setting), then applies it in one transaction: if any
change is refused, nothing is applied. Promoting twice changes nothing the
second time.

  --dry-run  show the diff only
  --check    show the diff only; exit 1 when there is one (for CI)
  --yes      apply without asking (needed when stdin is not a terminal)`}
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

func promote(ctx context.Context, e *Env, args []string) error {
	fs := newFlags("promote")
	tenant := fs.String("tenant", "", "tenant code")
	af := addApplyFlags(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := positional(pos); err != nil {
		return err
	}
	if *tenant == "" {
		return usageErrorf("--tenant is required")
	}
	if err := af.validate(); err != nil {
		return err
	}
	plan, err := promoteCall(ctx, e, *tenant, true)
	if err != nil {
		return err
	}
	what := "production of " + *tenant
	n := promotionCount(plan)
	if n == 0 {
		if e.JSON {
			return writeJSON(e.Out, plan)
		}
		e.Printf("No changes: production of %s already matches staging.\n", *tenant)
		return nil
	}
	if *af.dryRun || *af.check {
		if err := e.Render(plan, promotionHeaders, promotionRows(plan)); err != nil {
			return err
		}
		if *af.check {
			return fmt.Errorf("%d change(s) to %s: %w", n, what, ErrFailed)
		}
		return nil
	}
	if !e.JSON {
		if err := writeTable(e.Out, promotionHeaders, promotionRows(plan)); err != nil {
			return err
		}
	}
	ok, err := e.confirm(*af.yes, fmt.Sprintf("Promote staging to production of %s (%d change(s))?", *tenant, n))
	if err != nil || !ok {
		return err
	}
	done, err := promoteCall(ctx, e, *tenant, false)
	if err != nil {
		return err
	}
	if e.JSON {
		return writeJSON(e.Out, done)
	}
	// The applied changes are the server's, computed in the transaction: if
	// staging or production moved since the preview, they differ from it.
	if !samePromotion(plan, done) {
		e.Printf("\nThe catalog changed since the preview; applied instead:\n")
		if err := writeTable(e.Out, promotionHeaders, promotionRows(done)); err != nil {
			return err
		}
	}
	e.Printf("Promoted: %d change(s) applied to %s.\n", promotionCount(done), what)
	return nil
}

func promoteCall(ctx context.Context, e *Env, tenant string, dryRun bool) (*client.Promotion, error) {
	op, check := "promote "+tenant, "partnerhub promote --tenant "+tenant+" --dry-run (shows what is left)"
	if dryRun {
		op, check = "preview the promotion of "+tenant, ""
	}
	r, err := e.Client.CreatePromotionWithResponse(ctx, tenant, client.CreatePromotionJSONRequestBody{DryRun: &dryRun})
	if err := call(op, check, err, statusOf(r), bodyOf(r)); err != nil {
		return nil, err
	}
	return r.JSON200, nil
}

func samePromotion(a, b *client.Promotion) bool {
	ra, rb := promotionRows(a), promotionRows(b)
	if len(ra) != len(rb) {
		return false
	}
	for i := range ra {
		if strings.Join(ra[i], "\x00") != strings.Join(rb[i], "\x00") {
			return false
		}
	}
	return true
}
