package cli

import (
	"context"
	"time"

	"github.com/partnerhub/partnerhub/client"
)

func keysCommand() *Command {
	return &Command{Name: "keys", Summary: "list, create and revoke API keys (operator keys, or a tenant's with --tenant)",
		Usage: `Usage: partnerhub keys COMMAND [--tenant CODE]

Without --tenant the commands act on operator keys (they see every tenant);
with --tenant CODE on that tenant's keys. A key is named by its prefix
(phk_<prefix>_...); partnerhub keeps only its hash.`,
		Sub: []*Command{
			{Name: "list", Summary: "list keys, revoked ones included", Run: keysList, Usage: `Usage: partnerhub keys list [--tenant CODE]`},
			{Name: "create", Summary: "create a key and print it ONCE", Run: keysCreate, Usage: `Usage: partnerhub keys create --name NAME [--tenant CODE [--role admin|viewer]]

Creates a key and prints it once: this is the only time the key is shown
(partnerhub keeps only its hash), so store it now, e.g. in your secret
manager. With --output json it is the "key" field. Tenant keys are admin
(read and write) or viewer (read only; default admin); operator keys are admin.`},
			{Name: "revoke", Summary: "revoke a key by its prefix", Run: keysRevoke, Usage: `Usage: partnerhub keys revoke PREFIX [--tenant CODE]

Revokes the key at once; revoking a revoked key is not an error.`},
		}}
}

var keyHeaders = []string{"PREFIX", "NAME", "SCOPE", "TENANT", "ROLE", "CREATED", "LAST USED", "REVOKED"}

func keyRow(k client.APIKey) []string {
	return []string{k.Prefix, k.Name, string(k.Scope), orDash(k.PartnerCode), string(k.Role),
		k.CreatedAt.UTC().Format(time.RFC3339), timeOrDash(k.LastUsedAt), timeOrDash(k.RevokedAt)}
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func keysList(ctx context.Context, e *Env, args []string) error {
	fs := newFlags("keys list")
	tenant := fs.String("tenant", "", "tenant code")
	_, err := parseArgs(fs, args, nil)
	if err != nil {
		return err
	}
	pg := newPager("list operator keys")
	if *tenant != "" {
		pg.op = "list keys of " + *tenant
	}
	all, _, err := follow(pg, nil, true, func(cursor *string) ([]client.APIKey, *string, error) {
		var page *client.APIKeyList
		if *tenant == "" {
			r, err := e.Client.ListOperatorApiKeysWithResponse(ctx, &client.ListOperatorApiKeysParams{Limit: ptr(pageSize), Cursor: cursor})
			if err := call(pg.op, "", err, statusOf(r), bodyOf(r)); err != nil {
				return nil, nil, err
			}
			if page, err = decoded(pg.op, "", r, r.JSON200); err != nil {
				return nil, nil, err
			}
		} else {
			r, err := e.Client.ListApiKeysWithResponse(ctx, *tenant, &client.ListApiKeysParams{Limit: ptr(pageSize), Cursor: cursor})
			if err := call(pg.op, "", err, statusOf(r), bodyOf(r)); err != nil {
				return nil, nil, err
			}
			if page, err = decoded(pg.op, "", r, r.JSON200); err != nil {
				return nil, nil, err
			}
		}
		return itemsOf(page.Items), page.NextCursor, nil
	})
	if err != nil {
		return err
	}
	pg.note(e.Err, "keys", "revoke unused keys")
	return renderList(e, all, keyHeaders, keyRow)
}

func keysCreate(ctx context.Context, e *Env, args []string) error {
	fs := newFlags("keys create")
	tenant := fs.String("tenant", "", "tenant code")
	name := fs.String("name", "", "what the key is for")
	role := fs.String("role", "admin", "admin or viewer (tenant keys)")
	_, err := parseArgs(fs, args, nil)
	if err != nil {
		return err
	}
	if *name == "" {
		return usageErrorf("--name is required")
	}
	if *role != "admin" && *role != "viewer" {
		return usageErrorf("--role must be admin or viewer")
	}
	var k *client.CreatedAPIKey
	if *tenant == "" {
		if setFlags(fs)["role"] && *role != "admin" {
			return usageErrorf("operator keys are admin: --role applies to tenant keys")
		}
		op, check := "create operator key", "partnerhub keys list"
		r, err := e.Client.CreateOperatorApiKeyWithResponse(ctx, client.CreateOperatorApiKeyJSONRequestBody{Name: *name})
		if err := call(op, check, err, statusOf(r), bodyOf(r)); err != nil {
			return err
		}
		if k, err = decoded(op, check, r, r.JSON201); err != nil {
			return err
		}
	} else {
		op, check := "create key for "+*tenant, "partnerhub keys list --tenant "+*tenant
		r, err := e.Client.CreateApiKeyWithResponse(ctx, *tenant, client.CreateApiKeyJSONRequestBody{Name: *name, Role: client.CreateTenantKeyInputBodyRole(*role)})
		if err := call(op, check, err, statusOf(r), bodyOf(r)); err != nil {
			return err
		}
		if k, err = decoded(op, check, r, r.JSON201); err != nil {
			return err
		}
	}
	if e.JSON {
		return writeJSON(e.Out, k)
	}
	row := keyRow(client.APIKey{Prefix: k.Prefix, Name: k.Name, Scope: client.APIKeyScope(k.Scope), PartnerCode: k.PartnerCode,
		Role: client.APIKeyRole(k.Role), CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt})
	if err := writeTable(e.Out, keyHeaders, [][]string{row}); err != nil {
		return err
	}
	e.Printf("\nAPI key (shown once, store it now):\n%s\n", k.Key)
	return nil
}

func keysRevoke(ctx context.Context, e *Env, args []string) error {
	fs := newFlags("keys revoke")
	tenant := fs.String("tenant", "", "tenant code")
	pos, err := parseArgs(fs, args, nil, "PREFIX")
	if err != nil {
		return err
	}
	var k *client.APIKey
	if *tenant == "" {
		op, check := "revoke operator key "+pos[0], "partnerhub keys list"
		r, err := e.Client.RevokeOperatorApiKeyWithResponse(ctx, pos[0])
		if err := call(op, check, err, statusOf(r), bodyOf(r)); err != nil {
			return err
		}
		if k, err = decoded(op, check, r, r.JSON200); err != nil {
			return err
		}
	} else {
		op, check := "revoke key "+pos[0], "partnerhub keys list --tenant "+*tenant
		r, err := e.Client.RevokeApiKeyWithResponse(ctx, *tenant, pos[0])
		if err := call(op, check, err, statusOf(r), bodyOf(r)); err != nil {
			return err
		}
		if k, err = decoded(op, check, r, r.JSON200); err != nil {
			return err
		}
	}
	return e.Render(k, keyHeaders, [][]string{keyRow(*k)})
}
