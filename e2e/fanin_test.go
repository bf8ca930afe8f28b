package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mirrorsink/mirrorsink/engine"
	"github.com/mirrorsink/mirrorsink/simulator"
)

// fanInTenants starts the service on a fan-in route of the target and makes n tenants of the crm
// dataset on it, each verified through the route (its rows in the shared tables, or in a table of its
// own where its schema cannot share one).
func fanInTenants(t *testing.T, route engine.Route, n int) (*service, []*tenant) {
	t.Helper()
	svc := startService(t, route)
	tenants := make([]*tenant, n)
	shared := target{name: route.Dialect, drop: func(*testing.T, string) {}} // the route's cleanup drops the schema
	for i := range tenants {
		tenants[i] = newTenant(t, shared, svc, "crm", 40, 30_000)
		tenants[i].mirror = simulator.Mirror{Dialect: route.Dialect, Tenant: tenants[i].name, Route: &route}
	}
	return svc, tenants
}

// schemaChange changes a fan-in tenant's source as SuperOffice upgrades do and runs its cycle: the
// table it drops goes from the tenant's tables (the shared table stays for the others).
func schemaChange(t *testing.T, svc *service, tn *tenant, seed uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := simulator.SchemaChange(ctx, tn.src, seed)
	if err != nil {
		t.Fatal(err)
	}
	tn.cycle(t)
	st, err := svc.engine.Status(ctx, tn.name)
	if err != nil {
		t.Fatal(err)
	}
	// The retyped column's new type does not hold the other tenants' values, nor theirs its: the
	// tenant's rows of that table are kept in a table of its own (and verified there by tn.cycle).
	retyped, _, _ := strings.Cut(res.Retyped, ".")
	kept := false
	for _, ts := range st.Tables {
		if ts.Table == res.Dropped {
			t.Fatalf("tenant %s still has table %s, which its source dropped: %+v", tn.name, res.Dropped, ts)
		}
		if ts.Table == retyped {
			kept = ts.StoredIn == retyped+"@"+tn.name && ts.Conflict != ""
		}
	}
	if retyped != "" && !kept {
		t.Fatalf("tenant %s's table %s, retyped (%s), is not kept in a table of its own: %+v", tn.name, retyped, res.Retyped, st.Tables)
	}
}

// TestFanInCycles runs whole cycles of three tenants in one fan-in schema on every database that takes
// the layout: initial loads, churn, then SuperOffice-like schema changes of one tenant (a column added,
// one widened, one changed to an incompatible type, a table dropped and one created), and a resync
// (wipe and repopulation) of another; every mirror verifies against its source after every cycle,
// the retyped table's rows in the tenant's own table.
func TestFanInCycles(t *testing.T) {
	for _, tgt := range fanInTargets() {
		t.Run(tgt.Name, func(t *testing.T) {
			if tgt.Available != nil {
				tgt.Available(t)
			}
			svc, tenants := fanInTenants(t, tgt.Route(t), 3)
			for round := range 2 {
				cycleAll(t, tenants, round, 3, 3)
			}
			changed, reset := tenants[0], tenants[1]
			schemaChange(t, svc, changed, 7)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := reset.mirror.Reset(ctx, "contact"); err != nil {
				t.Fatal(err)
			}
			if r := reset.cycle(t); !tableResult(t, r, "contact").Full {
				t.Fatalf("the resync of %s's contact did not resend it: %+v", reset.name, tableResult(t, r, "contact"))
			}
			cycleAll(t, tenants, 3, 3, 3)
		})
	}
}

// TestFanInPartitionedByThePartner: a partner turns a shared table into a table partitioned by tenant
// (a LIST partition each, for their own reasons); the tenants' cycles, a schema change and a wipe go on
// through the partitioned table, and every mirror verifies.
func TestFanInPartitionedByThePartner(t *testing.T) {
	route := fanInTargets()[0].Route(t) // PostgreSQL
	svc, tenants := fanInTenants(t, route, 2)
	cycleAll(t, tenants, 0, 2, 2)
	_, schema := route.Resolve("")
	q := pgx.Identifier{schema}.Sanitize()
	parts := []string{
		"ALTER TABLE " + q + ".contact RENAME TO contact_plain",
		"CREATE TABLE " + q + ".contact (LIKE " + q + ".contact_plain INCLUDING DEFAULTS) PARTITION BY LIST (tenant)",
		"ALTER TABLE " + q + ".contact ADD PRIMARY KEY (tenant, contact_id)",
	}
	for i, tn := range tenants {
		parts = append(parts, "CREATE TABLE "+q+".contact_"+string(rune('a'+i))+" PARTITION OF "+q+".contact FOR VALUES IN ('"+tn.name+"')")
	}
	parts = append(parts,
		"CREATE TABLE "+q+".contact_rest PARTITION OF "+q+".contact DEFAULT",
		"INSERT INTO "+q+".contact SELECT * FROM "+q+".contact_plain",
		"DROP TABLE "+q+".contact_plain")
	pgExec(t, route.DSN, strings.Join(parts, ";\n"))
	cycleAll(t, tenants, 1, 2, 2)
	schemaChange(t, svc, tenants[0], 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := tenants[1].mirror.Reset(ctx, "contact"); err != nil {
		t.Fatal(err)
	}
	tenants[1].cycle(t)
	cycleAll(t, tenants, 2, 2, 2)
	var kind string
	pgQueryRow(t, route.DSN, "SELECT relkind::text FROM pg_class WHERE oid = '"+strings.ReplaceAll(q, "'", "''")+".contact'::regclass", &kind)
	if kind != "p" {
		t.Fatalf("contact is of relkind %q after the cycles, want the partner's partitioned table (p)", kind)
	}
}
