package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/protocol"
)

// schemaTables is how many tables the TableSchema benchmark sends, about as many as SuperOffice has.
const schemaTables = 400

// schemaTenant is the tenant whose mirror the TableSchema benchmark creates.
const schemaTenant = "BenchSchema"

// columnKind is a SuperOffice-like column declaration: type, default, nullability and how often it
// occurs.
type columnKind struct {
	typ, def string
	nullable bool
	weight   int
}

var columnKinds = []columnKind{
	{"int", "default ((0))", false, 30},
	{"smallint", "default ((0))", false, 12},
	{"nvarchar(254)", "default (N'')", false, 14},
	{"nvarchar(50)", "default (N'')", false, 6},
	{"nvarchar(255)", "", true, 5},
	{"nvarchar(max)", "", true, 2},
	{"datetime", "", false, 8},
	{"datetime", "", true, 6},
	{"float", "default ((0))", false, 5},
	{"int", "", true, 6},
	{"bigint", "default ((0))", false, 2},
	{"tinyint", "default ((0))", false, 1},
	{"bit", "default ((0))", false, 1},
	{"decimal(18,4)", "default ((0))", false, 1},
	{"uniqueidentifier", "", true, 1},
	{"varbinary(max)", "", true, 1},
}

// syntheticSchema returns n tables of 15 to 25 columns drawn from columnKinds, deterministic for a
// seed. Each table starts with its integer key, as SuperOffice's do, and ends with the usual
// registered/updated bookkeeping columns.
func syntheticSchema(n int, seed uint64) []contract.TableSchema {
	r := rand.New(rand.NewPCG(seed, 400))
	total := 0
	for _, k := range columnKinds {
		total += k.weight
	}
	tables := make([]contract.TableSchema, n)
	for i := range tables {
		name := fmt.Sprintf("bench_table_%03d", i)
		cols := []contract.Column{{Name: name + "_id", Type: "int"}}
		ncols := 15 + r.IntN(11)
		for j := 1; j < ncols-4; j++ {
			pick := r.IntN(total)
			k := columnKinds[0]
			for _, kk := range columnKinds {
				if pick < kk.weight {
					k = kk
					break
				}
				pick -= kk.weight
			}
			cols = append(cols, contract.Column{Name: fmt.Sprintf("col_%02d", j), Type: k.typ, DefaultValue: k.def, IsNullable: k.nullable})
		}
		cols = append(cols,
			contract.Column{Name: "registered", Type: "datetime"},
			contract.Column{Name: "registered_associate_id", Type: "int", DefaultValue: "default ((0))"},
			contract.Column{Name: "updated", Type: "datetime"},
			contract.Column{Name: "updatedCount", Type: "smallint", DefaultValue: "default ((0))"},
		)
		tables[i] = contract.TableSchema{Name: name, Columns: cols}
	}
	return tables
}

// schemaBench creates 400 tables with one TableSchema call, then times the same call again (nothing
// to change) several times and reports the median.
func (b *bench) schemaBench(ctx context.Context, binary string, k keys, t target) error {
	name := "schema"
	if _, err := t.sql(ctx, "", "SELECT 1"); err != nil {
		return fmt.Errorf("schema: %s does not answer: %w", t.name, err)
	}
	if err := t.drop(); err != nil {
		return err
	}
	defer func() {
		if b.opts.keep {
			b.progress("schema: kept database %s", benchDatabase)
			return
		}
		if err := t.drop(); err != nil {
			b.progress("%v", err)
		}
	}()
	svc, err := b.startService(ctx, binary, k, "serve-"+name, schemaTenant, t.dialect, t.dsn, false)
	if err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	defer svc.stop()
	client := &protocol.Client{URL: svc.url, HTTP: &http.Client{}}
	tables := syntheticSchema(schemaTables, b.opts.seed)
	req := protocol.TableSchemaRequest{ClientState: "bench", Tables: tables}

	tok, err := k.token(schemaTenant)
	if err != nil {
		return err
	}
	auth, err := client.Authenticate(ctx, tok, protocol.AuthenticateRequest{ClientState: "bench"})
	if err != nil {
		return fmt.Errorf("schema: Authenticate: %w", err)
	}
	if !auth.IsSuccessful {
		return fmt.Errorf("schema: Authenticate failed: %s", auth.ErrorMessage)
	}
	call := func() (time.Duration, error) {
		tok, err := k.token(schemaTenant)
		if err != nil {
			return 0, err
		}
		start := time.Now()
		resp, err := client.TableSchema(ctx, tok, req)
		took := time.Since(start)
		if err != nil {
			return 0, fmt.Errorf("schema: TableSchema: %w (service log: %s)", err, svc.logTail())
		}
		if !resp.IsSuccessful {
			return 0, fmt.Errorf("schema: TableSchema failed: %s", resp.ErrorMessage)
		}
		if len(resp.MirrorLSN) != len(tables) {
			return 0, fmt.Errorf("schema: TableSchema answered %d LSNs for %d tables", len(resp.MirrorLSN), len(tables))
		}
		return took, nil
	}
	cols := 0
	for _, tb := range tables {
		cols += len(tb.Columns)
	}
	b.progress("schema: creating %d tables (%d columns) with one TableSchema call", len(tables), cols)
	first, err := call()
	if err != nil {
		return err
	}
	var times []time.Duration
	for range b.opts.schemaRuns {
		d, err := call()
		if err != nil {
			return err
		}
		times = append(times, d)
	}
	slices.Sort(times)
	median := times[len(times)/2]
	b.report("schema: TableSchema of %d tables (%d columns), %s: first call (creates them) %s; unchanged call median %.1f ms of %d (min %.1f, max %.1f) (target < %d ms)%s",
		len(tables), cols, t.name, first.Round(time.Millisecond), ms(median), len(times), ms(times[0]), ms(times[len(times)-1]), targetSchemaMs, verdict(ms(median) < targetSchemaMs))
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
