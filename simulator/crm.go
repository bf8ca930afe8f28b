package simulator

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// The crm dataset imitates SuperOffice's own schema: table and column names, SQL Server types,
// nullability and defaults follow the real TableSchema requests (appointment, invitation and
// binaryobject are column for column those of testdata/superoffice/TableSchemaRequest-excerpt.xml).

const (
	dZero  = "default ((0))"
	dEmpty = "default (N'')"
)

// c declares a column and its generator.
type c struct {
	name, typ, def string
	null           bool
	gen            genFunc
}

func spec(name string, rows func(n int64) int64, cols ...c) tableSpec {
	s := tableSpec{Table: Table{Name: name}, rows: rows}
	for _, col := range cols {
		s.Columns = append(s.Columns, Column{Name: col.name, Type: col.typ, Default: col.def, Nullable: col.null})
		g := col.gen
		if col.null {
			g = sometimesNull(g, 8)
		}
		s.gens = append(s.gens, g)
	}
	return s
}

// share returns a row count of num/den of n, at least min.
func share(num, den, min int64) func(n int64) int64 {
	return func(n int64) int64 { return max(n*num/den, min) }
}

func sometimesNull(g genFunc, oneIn int) genFunc {
	return func(r *rand.Rand, id int64) any {
		if r.IntN(oneIn) == 0 {
			return nil
		}
		return g(r, id)
	}
}

func key(_ *rand.Rand, id int64) any { return id }

func ref(n int64) genFunc {
	return func(r *rand.Rand, _ int64) any { return 1 + r.Int64N(n) }
}

func idx(n int) genFunc { return func(r *rand.Rand, _ int64) any { return int64(r.IntN(n)) } }

func zero(*rand.Rand, int64) any { return int64(0) }

func date(r *rand.Rand, _ int64) any { return randomDate(r) }

// dateOrNone gives SuperOffice's 1760-01-01 "no date" one time in three.
func dateOrNone(r *rand.Rand, _ int64) any {
	if r.IntN(3) == 0 {
		return noDate
	}
	return randomDate(r)
}

func text(nWords int) genFunc {
	return func(r *rand.Rand, _ int64) any { return words(r, 1+r.IntN(nWords)) }
}

func empty(*rand.Rand, int64) any { return "" }

func amount(r *rand.Rand, _ int64) any { return float64(r.IntN(10_000_000)) / 100 }

func company(r *rand.Rand, id int64) any {
	return fmt.Sprintf("%s %s %s", strings.ToUpper(vocabulary[r.IntN(len(vocabulary))][:1])+vocabulary[r.IntN(len(vocabulary))], words(r, 1), []string{"AS", "AB", "GmbH", "Ltd", "ASA", "Oy"}[id%6])
}

var firstNames = strings.Fields("Anna Bjørn Carla David Eva Frode Greta Hans Ingrid Jonas Kari Lars Marit Nils Olga Per Ragnhild Sven Tove Ulf Åse Øystein Émile Zoë")
var lastNames = strings.Fields("Hansen Johansen Olsen Larsen Andersen Pedersen Nilsen Kristiansen Jensen Karlsen Berg Haugen Dahl Lund Müller Nowak O'Brien Søreide")

func firstName(r *rand.Rand, _ int64) any { return firstNames[r.IntN(len(firstNames))] }
func lastName(r *rand.Rand, _ int64) any  { return lastNames[r.IntN(len(lastNames))] }

func phone(r *rand.Rand, _ int64) any {
	return fmt.Sprintf("+47 %03d %02d %03d", r.IntN(1000), r.IntN(100), r.IntN(1000))
}

func orgnr(r *rand.Rand, _ int64) any { return fmt.Sprintf("%09d", r.IntN(1_000_000_000)) }

// memo is an nvarchar(max) text: several lines, now and then long.
func memo(r *rand.Rand, _ int64) any {
	lines := 1 + r.IntN(3)
	if r.IntN(50) == 0 {
		lines = 40
	}
	var b strings.Builder
	for i := range lines {
		if i > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString(words(r, 4+r.IntN(8)))
	}
	return b.String()
}

func blob(r *rand.Rand, _ int64) any {
	b := make([]byte, 32+r.IntN(480))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func url(r *rand.Rand, id int64) any {
	return fmt.Sprintf("https://meet.example.com/%s/%d", vocabulary[r.IntN(len(vocabulary))], id)
}

func stamp(r *rand.Rand, id int64) any {
	return fmt.Sprintf("%08x-%d@superoffice.example", r.Uint32(), id)
}

func registeredAt(r *rand.Rand, _ int64) any {
	return time.Unix(1262304000+r.Int64N(15*365*86400), 0).UTC()
}

// crmSpecs returns the crm tables.
func crmSpecs() []tableSpec {
	all := func(n int64) int64 { return n }
	return []tableSpec{
		spec("contact", all,
			c{"contact_id", "int", "", false, key},
			c{"name", "nvarchar(254)", dEmpty, false, company},
			c{"department", "nvarchar(254)", dEmpty, false, text(2)},
			c{"name_department", "nvarchar(508)", "", true, text(4)},
			c{"number1", "nvarchar(254)", dEmpty, false, phone},
			c{"number2", "nvarchar(254)", dEmpty, false, empty},
			c{"orgnr", "nvarchar(32)", dEmpty, false, orgnr},
			c{"kananame", "nvarchar(254)", dEmpty, false, empty},
			c{"business_idx", "int", dZero, false, idx(20)},
			c{"category_idx", "int", dZero, false, idx(12)},
			c{"country_id", "int", dZero, false, idx(250)},
			c{"associate_id", "int", dZero, false, ref(200)},
			c{"group_idx", "int", dZero, false, idx(10)},
			c{"xstop", "smallint", dZero, false, idx(2)},
			c{"source", "smallint", dZero, false, idx(4)},
			c{"deleted", "smallint", dZero, false, zero},
			c{"activeInterests", "smallint", dZero, false, idx(5)},
			c{"activeErpLinks", "smallint", dZero, false, zero},
			c{"text_id", "int", "", true, ref(1_000_000)},
			c{"userdef_id", "int", "", true, ref(1_000_000)},
			c{"userdef2_id", "int", "", true, ref(1_000_000)},
			c{"dbi_agent_id", "int", "", true, ref(10)},
			c{"dbi_key", "nvarchar(254)", "", true, stamp},
			c{"dbi_last_syncronized", "datetime", "", true, date},
			c{"dbi_last_modified", "datetime", "", true, date},
			c{"rating", "float", "", true, amount},
			c{"registered", "datetime", "", false, registeredAt},
			c{"registered_associate_id", "int", dZero, false, ref(200)},
			c{"updated", "datetime", "", false, dateOrNone},
			c{"updated_associate_id", "int", dZero, false, ref(200)},
			c{"updatedCount", "smallint", dZero, false, idx(30)},
			c{"stop_reason", "nvarchar(max)", "", true, text(6)},
		),
		spec("person", all,
			c{"person_id", "int", "", false, key},
			c{"contact_id", "int", dZero, false, ref(1_000_000)},
			c{"rank", "smallint", dZero, false, idx(10)},
			c{"firstname", "nvarchar(50)", dEmpty, false, firstName},
			c{"middleName", "nvarchar(50)", dEmpty, false, empty},
			c{"lastname", "nvarchar(50)", dEmpty, false, lastName},
			c{"mrmrs", "nvarchar(20)", dEmpty, false, empty},
			c{"title", "nvarchar(100)", dEmpty, false, text(2)},
			c{"position_idx", "int", dZero, false, idx(30)},
			c{"associate_id", "int", dZero, false, ref(200)},
			c{"birthdate", "datetime", "default (N'1760-01-01 00:00:00')", false, dateOrNone},
			c{"kanafname", "nvarchar(50)", dEmpty, false, empty},
			c{"kanalname", "nvarchar(50)", dEmpty, false, empty},
			c{"retired", "smallint", dZero, false, idx(2)},
			c{"noMailing", "smallint", dZero, false, idx(2)},
			c{"text_id", "int", "", true, ref(1_000_000)},
			c{"supportAssociate_id", "int", "", true, ref(200)},
			c{"registered", "datetime", "", false, registeredAt},
			c{"registered_associate_id", "int", dZero, false, ref(200)},
			c{"updated", "datetime", "", false, dateOrNone},
			c{"updated_associate_id", "int", dZero, false, ref(200)},
			c{"updatedCount", "smallint", dZero, false, idx(30)},
		),
		spec("appointment", share(1, 2, 1),
			c{"appointment_id", "int", "", false, key},
			c{"contact_id", "int", "", true, ref(1_000_000)},
			c{"person_id", "int", "", true, ref(1_000_000)},
			c{"associate_id", "int", "", false, ref(200)},
			c{"group_idx", "int", "", false, idx(10)},
			c{"registered", "datetime", "", false, registeredAt},
			c{"registered_associate_id", "int", "", true, ref(200)},
			c{"done", "datetime", "", false, dateOrNone},
			c{"do_by", "datetime", "", true, date},
			c{"leadtime", "smallint", "", true, idx(60)},
			c{"task_idx", "int", "", false, idx(20)},
			c{"priority_idx", "int", "", true, idx(5)},
			c{"type", "smallint", "", true, idx(8)},
			c{"status", "smallint", "", true, idx(8)},
			c{"private", "smallint", "", true, idx(3)},
			c{"alarm", "smallint", "", true, idx(2)},
			c{"text_id", "int", "", true, ref(1_000_000)},
			c{"project_id", "int", "", true, ref(5000)},
			c{"mother_id", "int", "", true, ref(1_000_000)},
			c{"document_id", "int", "", true, ref(100_000)},
			c{"color_index", "smallint", "", true, idx(16)},
			c{"invitedpersonid", "int", "", true, ref(1_000_000)},
			c{"activedate", "datetime", "", true, date},
			c{"enddate", "datetime", "", true, date},
			c{"lagtime", "smallint", "", true, idx(60)},
			c{"source", "smallint", "", true, idx(4)},
			c{"userdef_id", "int", "", true, ref(1_000_000)},
			c{"userdef2_id", "int", "", true, ref(1_000_000)},
			c{"updated", "datetime", "", false, dateOrNone},
			c{"updated_associate_id", "int", "", false, ref(200)},
			c{"updatedcount", "smallint", "", false, idx(30)},
			c{"activelinks", "int", "", true, idx(4)},
			c{"recurrenceruleid", "int", "", true, ref(1000)},
			c{"location", "nvarchar(254)", "", true, text(3)},
			c{"alldayevent", "smallint", "", true, idx(2)},
			c{"freebusy", "smallint", "", true, idx(2)},
			c{"rejectcounter", "smallint", "", true, idx(3)},
			c{"emailid", "int", "", true, ref(100_000)},
			c{"rejectreason", "nvarchar(254)", "", true, text(4)},
			c{"hasalarm", "smallint", "", true, idx(2)},
			c{"assignedby", "int", "", true, ref(200)},
			c{"preferredtzlocation", "int", "", true, idx(40)},
			c{"sale_id", "int", "", true, ref(100_000)},
			c{"suggestedappointmentid", "int", "", true, ref(1000)},
			c{"suggesteddocumentid", "int", "", true, ref(1000)},
			c{"ismilestone", "smallint", "", true, idx(2)},
			c{"cautionwarning", "smallint", "", true, idx(2)},
			c{"join_videomeet_url", "nvarchar(2000)", "", true, url},
			c{"centralservice_videomeet_id", "nvarchar(100)", "", true, stamp},
			c{"mother_associate_id", "int", "", true, ref(200)},
			c{"original_start_date", "datetime", "", true, date},
		),
		spec("sale", share(1, 5, 1),
			c{"sale_id", "int", "", false, key},
			c{"contact_id", "int", dZero, false, ref(1_000_000)},
			c{"person_id", "int", dZero, false, ref(1_000_000)},
			c{"associate_id", "int", dZero, false, ref(200)},
			c{"heading", "nvarchar(254)", dEmpty, false, text(5)},
			c{"number1", "nvarchar(254)", dEmpty, false, orgnr},
			c{"amount", "float", dZero, false, amount},
			c{"cost", "float", dZero, false, amount},
			c{"earning", "float", dZero, false, amount},
			c{"earningPercent", "float", dZero, false, amount},
			c{"probability", "smallint", dZero, false, idx(101)},
			c{"saledate", "datetime", "", false, date},
			c{"status", "smallint", dZero, false, idx(5)},
			c{"text_id", "int", "", true, ref(1_000_000)},
			c{"registered", "datetime", "", false, registeredAt},
			c{"updated", "datetime", "", false, dateOrNone},
			c{"updatedCount", "smallint", dZero, false, idx(30)},
		),
		spec("text", share(1, 5, 1),
			c{"text_id", "int", "", false, key},
			c{"text", "nvarchar(max)", "", true, memo},
			c{"type", "smallint", dZero, false, idx(8)},
			c{"owner_id", "int", dZero, false, ref(1_000_000)},
		),
		spec("invitation", share(1, 20, 1),
			c{"invitation_id", "int", "", false, key},
			c{"event_uid", "nvarchar(255)", "", true, stamp},
			c{"event_sequence", "int", "", true, idx(5)},
			c{"event_dtstamp", "datetime", "", true, date},
			c{"appointment_id", "int", "", true, ref(500_000)},
			c{"registered", "datetime", "", false, registeredAt},
			c{"registered_associate_id", "int", "", false, ref(200)},
			c{"updated", "datetime", "", false, dateOrNone},
			c{"updated_associate_id", "int", "", false, ref(200)},
			c{"updatedcount", "smallint", "", false, idx(30)},
			c{"organizer_email", "nvarchar(255)", "", true, stamp},
			c{"organizer_fullname", "nvarchar(255)", "", true, text(2)},
			c{"recurring_end_date", "datetime", "", true, date},
			c{"recurring_start_date", "datetime", "", true, date},
		),
		spec("binaryobject", share(1, 200, 1),
			c{"binaryobject_id", "int", "", false, key},
			c{"conceptualtype", "nvarchar(254)", "", false, text(1)},
			c{"mimetype", "nvarchar(254)", "", true, func(r *rand.Rand, _ int64) any {
				return []string{"image/png", "application/pdf", "text/plain"}[r.IntN(3)]
			}},
			c{"description", "nvarchar(254)", "", true, text(4)},
			c{"originalsize", "int", "", false, idx(600)},
			c{"blobsize", "int", "", false, idx(600)},
			c{"iszipped", "smallint", "", false, idx(2)},
			c{"isencrypted", "smallint", "", false, zero},
			c{"extrainfo", "nvarchar(254)", "", true, text(2)},
			c{"binarydata", "varbinary(max)", "", true, blob},
			c{"registered", "datetime", "", false, registeredAt},
			c{"registered_associate_id", "int", "", false, ref(200)},
			c{"updated", "datetime", "", false, dateOrNone},
			c{"updated_associate_id", "int", "", false, ref(200)},
			c{"updatedcount", "smallint", "", false, idx(30)},
		),
		spec("access_script", func(int64) int64 { return 3 },
			c{"id", "int", "", false, key},
			c{"access_table_name", "nvarchar(255)", dEmpty, false, text(1)},
			c{"body", "nvarchar(max)", "", true, memo},
		),
	}
}
