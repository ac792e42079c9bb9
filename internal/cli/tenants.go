package cli

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/partnerhub/partnerhub/client"
)

func tenantsCommand() *Command {
	return &Command{Name: "tenants", Summary: "list, show, create, update, suspend and resume tenants (studios)",
		Usage: `Usage: partnerhub tenants COMMAND

Tenants are the studios on partnerhub, named by their Pay1st partnerCode.
Operator keys only.`,
		Sub: []*Command{
			{Name: "list", Summary: "list tenants", Run: tenantsList, Usage: `Usage: partnerhub tenants list [--status active|suspended]

Lists every tenant (all pages), in creation order.`},
			{Name: "show", Summary: "show one tenant", Run: tenantsShow, Usage: `Usage: partnerhub tenants show CODE`},
			{Name: "create", Summary: "create a tenant (prints its staging Signing Key once)", Run: tenantsCreate, Usage: `Usage: partnerhub tenants create --code CODE --partner-id ID --name NAME
                                [--contact-name NAME] [--contact-email EMAIL]

Creates the tenant with its staging and production environments. The answer
carries the staging Signing Key: it is printed once, here only (partnerhub
keeps it sealed and never shows it again; rotate it with
'partnerhub credentials rotate signing-key' if it is lost).`},
			{Name: "update", Summary: "change a tenant's name or contact", Run: tenantsUpdate, Usage: `Usage: partnerhub tenants update CODE [--name NAME] [--contact-name NAME] [--contact-email EMAIL]

Changes only the flags given; an empty value clears a contact field.`},
			{Name: "suspend", Summary: "suspend a tenant (its Pay1st endpoints answer 503)", Run: tenantsSetStatus(false), Usage: `Usage: partnerhub tenants suspend CODE

A suspended tenant's Pay1st endpoints answer 503 and still record what
arrives. Suspending twice is not an error.`},
			{Name: "resume", Summary: "resume a suspended tenant", Run: tenantsSetStatus(true), Usage: `Usage: partnerhub tenants resume CODE`},
		}}
}

func tenantRow(t client.Tenant) []string {
	return []string{t.PartnerCode, strconv.FormatInt(t.PartnerId, 10), t.Name, string(t.Status), t.ContactName, t.ContactEmail, t.CreatedAt.UTC().Format(time.RFC3339)}
}

var tenantHeaders = []string{"CODE", "PARTNER ID", "NAME", "STATUS", "CONTACT", "EMAIL", "CREATED"}

func tenantsList(ctx context.Context, e *Env, args []string) error {
	fs := newFlags("tenants list")
	status := fs.String("status", "", "active or suspended")
	_, err := parseArgs(fs, args, nil)
	if err != nil {
		return err
	}
	params := &client.ListTenantsParams{Limit: ptr(pageSize)}
	switch *status {
	case "":
	case "active", "suspended":
		params.Status = ptr(client.ListTenantsParamsStatus(*status))
	default:
		return usageErrorf("--status must be active or suspended")
	}
	pg := newPager("list tenants")
	all, _, err := follow(pg, nil, true, func(cursor *string) ([]client.Tenant, *string, error) {
		params.Cursor = cursor
		r, err := e.Client.ListTenantsWithResponse(ctx, params)
		if err := call(pg.op, "", err, statusOf(r), bodyOf(r)); err != nil {
			return nil, nil, err
		}
		page, err := decoded(pg.op, "", r, r.JSON200)
		if err != nil {
			return nil, nil, err
		}
		return itemsOf(page.Items), page.NextCursor, nil
	})
	if err != nil {
		return err
	}
	pg.note(e.Err, "tenants", "filter with --status to see the rest")
	return renderList(e, all, tenantHeaders, tenantRow)
}

func tenantsShow(ctx context.Context, e *Env, args []string) error {
	pos, err := parseArgs(newFlags("tenants show"), args, nil, "CODE")
	if err != nil {
		return err
	}
	op := "show tenant " + pos[0]
	r, err := e.Client.GetTenantWithResponse(ctx, pos[0])
	if err := call(op, "", err, statusOf(r), bodyOf(r)); err != nil {
		return err
	}
	t, err := decoded(op, "", r, r.JSON200)
	if err != nil {
		return err
	}
	return e.Render(t, tenantHeaders, [][]string{tenantRow(*t)})
}

func tenantsCreate(ctx context.Context, e *Env, args []string) error {
	fs := newFlags("tenants create")
	code := fs.String("code", "", "Pay1st partnerCode")
	pid := fs.Int64("partner-id", 0, "Pay1st partnerId")
	name := fs.String("name", "", "display name")
	cname := fs.String("contact-name", "", "contact person")
	cmail := fs.String("contact-email", "", "contact email")
	_, err := parseArgs(fs, args, nil)
	if err != nil {
		return err
	}
	if *code == "" || *pid == 0 || *name == "" {
		return usageErrorf("--code, --partner-id and --name are required")
	}
	body := client.CreateTenantJSONRequestBody{PartnerCode: *code, PartnerId: *pid, Name: *name}
	set := setFlags(fs)
	if set["contact-name"] {
		body.ContactName = cname
	}
	if set["contact-email"] {
		body.ContactEmail = cmail
	}
	op, check := "create tenant "+*code, "partnerhub tenants show "+*code
	r, err := e.Client.CreateTenantWithResponse(ctx, body)
	if err := call(op, check, err, statusOf(r), bodyOf(r)); err != nil {
		return err
	}
	t, err := decoded(op, check, r, r.JSON201)
	if err != nil {
		return err
	}
	if e.JSON {
		return writeJSON(e.Out, t)
	}
	if err := writeTable(e.Out, tenantHeaders, [][]string{{t.PartnerCode, strconv.FormatInt(t.PartnerId, 10), t.Name, string(t.Status), t.ContactName, t.ContactEmail, t.CreatedAt.UTC().Format(time.RFC3339)}}); err != nil {
		return err
	}
	fmt.Fprintf(e.Out, "\nStaging Signing Key (shown once, store it now):\n%s\n", t.StagingSigningKey)
	return nil
}

func tenantsUpdate(ctx context.Context, e *Env, args []string) error {
	fs := newFlags("tenants update")
	name := fs.String("name", "", "display name")
	cname := fs.String("contact-name", "", "contact person (empty clears)")
	cmail := fs.String("contact-email", "", "contact email (empty clears)")
	pos, err := parseArgs(fs, args, nil, "CODE")
	if err != nil {
		return err
	}
	var body client.UpdateTenantJSONRequestBody
	set := setFlags(fs)
	if set["name"] {
		body.Name = name
	}
	if set["contact-name"] {
		body.ContactName = cname
	}
	if set["contact-email"] {
		body.ContactEmail = cmail
	}
	if len(set) == 0 {
		return usageErrorf("nothing to change: pass --name, --contact-name or --contact-email")
	}
	op, check := "update tenant "+pos[0], "partnerhub tenants show "+pos[0]
	r, err := e.Client.UpdateTenantWithResponse(ctx, pos[0], body)
	if err := call(op, check, err, statusOf(r), bodyOf(r)); err != nil {
		return err
	}
	t, err := decoded(op, check, r, r.JSON200)
	if err != nil {
		return err
	}
	return e.Render(t, tenantHeaders, [][]string{tenantRow(*t)})
}

func tenantsSetStatus(resume bool) func(ctx context.Context, e *Env, args []string) error {
	return func(ctx context.Context, e *Env, args []string) error {
		pos, err := parseArgs(newFlags("tenants"), args, nil, "CODE")
		if err != nil {
			return err
		}
		code := pos[0]
		check := "partnerhub tenants show " + code
		var t *client.Tenant
		if resume {
			op := "resume tenant " + code
			r, err := e.Client.ResumeTenantWithResponse(ctx, code)
			if err := call(op, check, err, statusOf(r), bodyOf(r)); err != nil {
				return err
			}
			if t, err = decoded(op, check, r, r.JSON200); err != nil {
				return err
			}
		} else {
			op := "suspend tenant " + code
			r, err := e.Client.SuspendTenantWithResponse(ctx, code)
			if err := call(op, check, err, statusOf(r), bodyOf(r)); err != nil {
				return err
			}
			if t, err = decoded(op, check, r, r.JSON200); err != nil {
				return err
			}
		}
		return e.Render(t, tenantHeaders, [][]string{tenantRow(*t)})
	}
}

// setFlags names the flags given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	m := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { m[f.Name] = true })
	return m
}

func ptr[T any](v T) *T { return &v }
