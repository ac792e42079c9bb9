package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/partnerhub/partnerhub/client"
)

const testTransactionsUsage = `Usage: partnerhub test-transactions COMMAND --tenant CODE ...

Staging test transactions: a simulated purchase of one bundle for one player
through the whole path (credentials, simulator, order, payment, signed
webhook, the plugin's fulfilment, the report), each step answered ok,
failed or pending.
`

func testTransactionsCommand() *Command {
	return &Command{Name: "test-transactions", Summary: "run a staging test transaction and show its steps",
		Usage: testTransactionsUsage,
		Sub: []*Command{
			{Name: "run", Summary: "run a test purchase in staging", Usage: testTxRunUsage, Run: testTxRun},
			{Name: "show", Summary: "show a test transaction's steps", Usage: testTxShowUsage, Run: testTxShow},
		}}
}

const testTxRunUsage = `Usage: partnerhub test-transactions run --tenant CODE (--bundle SKU | --bundle-id ID) --player ID
                                       [--country CC] [--reference REF] [--env staging]

Buys the bundle (--bundle: a SKU of the staging catalog, even an all-digit
one; --bundle-id: its numeric id) for the player through partnerhub's Pay1st
simulator and prints each step with ok, failed or pending. The server waits
a bounded time; a step not done by then is pending: run the same command
with the printed --reference to resume.

Exit codes: 0 every step ok; 1 a step failed, or steps are still pending;
4 refused (e.g. an unknown bundle, production, another request with the same
reference); plus the usual ones.
`

const testTxShowUsage = `Usage: partnerhub test-transactions show --tenant CODE [--env staging] REFERENCE

Shows a test transaction's status and steps as last recorded (a running one
shows its progress). Exit 1 unless it succeeded.
`

func testTxRun(ctx context.Context, e *Env, args []string) error {
	fs := newFlags("test-transactions run")
	sc := scopeFlags(fs, true)
	var bundle, country, ref string
	var player, bundleID int64
	fs.StringVar(&bundle, "bundle", "", "")
	fs.Int64Var(&bundleID, "bundle-id", 0, "")
	fs.Int64Var(&player, "player", 0, "")
	fs.StringVar(&country, "country", "", "")
	fs.StringVar(&ref, "reference", "", "")
	_, err := parseArgs(fs, args, sc.check)
	if err != nil {
		return err
	}
	if (bundle == "") == (bundleID == 0) || player < 1 {
		return usageErrorf("--player and one of --bundle SKU or --bundle-id ID are required")
	}
	if bundleID < 0 {
		return usageErrorf("--bundle-id must be a positive integer")
	}
	body := client.CreateTestTransactionJSONRequestBody{PlayerId: player}
	if bundleID > 0 {
		body.BundleId = &bundleID
		bundle = "bundle " + strconv.FormatInt(bundleID, 10)
	} else {
		body.Sku = &bundle
	}
	if country != "" {
		body.CountryCode = &country
	}
	if ref != "" {
		body.PartnerReference = &ref
	}
	if !e.JSON {
		fmt.Fprintf(e.Err, "running a test purchase of %s for player %d in %s...\n", bundle, player, sc.env)
	}
	resp, err := e.Client.CreateTestTransactionWithResponse(ctx, sc.tenant, sc.env, body)
	check := fmt.Sprintf("partnerhub test-transactions show --tenant %s --env %s REFERENCE", sc.tenant, sc.env)
	if ref != "" {
		check = fmt.Sprintf("partnerhub test-transactions show --tenant %s --env %s %s (or run it again with --reference %s: it resumes)",
			sc.tenant, sc.env, ref, ref)
	}
	if err := call("test transaction", check, err, statusOf(resp), bodyOf(resp)); err != nil {
		return err
	}
	tx, err := decoded("test transaction", check, resp, resp.JSON200)
	if err != nil {
		return err
	}
	return renderTestTx(e, sc, tx)
}

func testTxShow(ctx context.Context, e *Env, args []string) error {
	fs := newFlags("test-transactions show")
	sc := scopeFlags(fs, true)
	pos, err := parseArgs(fs, args, sc.check, "REFERENCE")
	if err != nil {
		return err
	}
	resp, err := e.Client.GetTestTransactionWithResponse(ctx, sc.tenant, sc.env, pos[0])
	if err := call("show test transaction "+pos[0], "", err, statusOf(resp), bodyOf(resp)); err != nil {
		return err
	}
	tx, err := decoded("show test transaction "+pos[0], "", resp, resp.JSON200)
	if err != nil {
		return err
	}
	return renderTestTx(e, sc, tx)
}

// renderTestTx prints the steps (or the JSON) and turns anything but
// succeeded into exit 1.
func renderTestTx(e *Env, sc *scope, tx *client.TestTransaction) error {
	if e.JSON {
		if err := e.Render(tx, nil, nil); err != nil {
			return err
		}
	} else {
		rows := make([][]string, 0, len(tx.Steps))
		for _, s := range tx.Steps {
			rows = append(rows, []string{string(s.Result), string(s.Name), s.Detail})
		}
		if err := writeTable(e.Out, nil, rows); err != nil {
			return err
		}
		payment := ""
		if tx.Reference != nil && *tx.Reference != "" {
			payment = fmt.Sprintf(", payment %s (partnerhub payments show --tenant %s --env %s %s)", *tx.Reference, sc.tenant, sc.env, *tx.Reference)
		}
		e.Printf("test transaction %s: %s%s\n", tx.PartnerReference, tx.Status, payment)
	}
	switch tx.Status {
	case client.TestTransactionStatusSucceeded:
		return nil
	case client.TestTransactionStatusFailed:
		for _, s := range tx.Steps {
			if s.Result == client.TestTransactionStepResultFailed {
				return fmt.Errorf("%w: test transaction %s: step %s: %s", ErrFailed, tx.PartnerReference, s.Name, s.Detail)
			}
		}
		return fmt.Errorf("%w: test transaction %s failed", ErrFailed, tx.PartnerReference)
	}
	return fmt.Errorf("%w: test transaction %s is %s: run again with --reference %s to resume, or show it later",
		ErrFailed, tx.PartnerReference, tx.Status, tx.PartnerReference)
}
