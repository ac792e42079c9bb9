package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/partnerhub/partnerhub/client"
)

func checklistCommand() *Command {
	return &Command{Name: "checklist", Summary: "a tenant's go-live checklist: show it, set a step",
		Usage: `Usage: partnerhub checklist show|set --tenant CODE ...

Pay1st's Shop integration checklist for the tenant: steps partnerhub sees
done by itself are marked automatic; the others a person sets.`,
		Sub: []*Command{
			{Name: "show", Summary: "the steps, their status and the days left", Run: checklistShow, Usage: `Usage: partnerhub checklist show --tenant CODE`},
			{Name: "set", Summary: "set a step's status (todo, in_progress, done) and note", Run: checklistSet, Usage: `Usage: partnerhub checklist set STEP todo|in_progress|done --tenant CODE [--note TEXT]

STEP is the step's key (the first column of 'checklist show'). A step
partnerhub observes done stays done whatever is set.`},
		}}
}

var checklistHeaders = []string{"STEP", "STATUS", "AUTO", "DAYS", "WHO", "TASK", "NOTE"}

func renderChecklist(e *Env, c *client.Checklist) error {
	var rows [][]string
	if c.Steps != nil {
		for _, s := range *c.Steps {
			rows = append(rows, []string{s.Key, string(s.Status), strconv.FormatBool(s.Automatic), s.EstimatedDays, s.Responsibility, s.Task, orDash(s.Note)})
		}
	}
	if err := e.Render(c, checklistHeaders, rows); err != nil {
		return err
	}
	e.Printf("\n%d of %d done; about %s day(s) left.\n", c.Done, c.Total, c.EstimatedDaysLeft)
	return nil
}

func checklistShow(ctx context.Context, e *Env, args []string) error {
	fs := newFlags("checklist show")
	tenant := fs.String("tenant", "", "tenant code")
	_, err := parseArgs(fs, args, needTenant(tenant))
	if err != nil {
		return err
	}
	op := "show the checklist of " + *tenant
	r, err := e.Client.GetChecklistWithResponse(ctx, *tenant)
	if err := call(op, "", err, statusOf(r), bodyOf(r)); err != nil {
		return err
	}
	c, err := decoded(op, "", r, r.JSON200)
	if err != nil {
		return err
	}
	return renderChecklist(e, c)
}

func checklistSet(ctx context.Context, e *Env, args []string) error {
	fs := newFlags("checklist set")
	tenant := fs.String("tenant", "", "tenant code")
	note := fs.String("note", "", "a note on the step")
	pos, err := parseArgs(fs, args, needTenant(tenant), "STEP", "STATUS")
	if err != nil {
		return err
	}
	status := client.SetChecklistStepInputBodyStatus(pos[1])
	switch status {
	case client.SetChecklistStepInputBodyStatusTodo, client.SetChecklistStepInputBodyStatusInProgress, client.SetChecklistStepInputBodyStatusDone:
	default:
		return usageErrorf("status must be todo, in_progress or done, not %q", pos[1])
	}
	body := client.SetChecklistStepJSONRequestBody{Status: status}
	if setFlags(fs)["note"] {
		body.Note = note
	}
	op := fmt.Sprintf("set step %s of %s", pos[0], *tenant)
	check := "partnerhub checklist show --tenant " + *tenant
	r, err := e.Client.SetChecklistStepWithResponse(ctx, *tenant, pos[0], body)
	if err := call(op, check, err, statusOf(r), bodyOf(r)); err != nil {
		return err
	}
	c, err := decoded(op, check, r, r.JSON200)
	if err != nil {
		return err
	}
	return renderChecklist(e, c)
}
