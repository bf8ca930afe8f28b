package typemap

import "strconv"

// kindNames holds the canonical SQL Server spelling of each Kind, indexed by Kind.
var kindNames = [...]string{
	Invalid:          "invalid",
	Bit:              "bit",
	TinyInt:          "tinyint",
	SmallInt:         "smallint",
	Int:              "int",
	BigInt:           "bigint",
	Decimal:          "decimal",
	Money:            "money",
	SmallMoney:       "smallmoney",
	Float:            "float",
	Real:             "real",
	Date:             "date",
	Time:             "time",
	SmallDateTime:    "smalldatetime",
	DateTime:         "datetime",
	DateTime2:        "datetime2",
	DateTimeOffset:   "datetimeoffset",
	Char:             "char",
	VarChar:          "varchar",
	NChar:            "nchar",
	NVarChar:         "nvarchar",
	Text:             "text",
	NText:            "ntext",
	Binary:           "binary",
	VarBinary:        "varbinary",
	Image:            "image",
	RowVersion:       "rowversion",
	UniqueIdentifier: "uniqueidentifier",
	XML:              "xml",
	HierarchyID:      "hierarchyid",
	Geography:        "geography",
	Geometry:         "geometry",
	SQLVariant:       "sql_variant",
	SysName:          "sysname",
}

// Kinds returns every valid Kind, in declaration order: what a dialect's type table must cover.
func Kinds() []Kind {
	out := make([]Kind, 0, len(kindNames)-1)
	for k := Bit; int(k) < len(kindNames); k++ {
		out = append(out, k)
	}
	return out
}

// String returns the kind's SQL Server name in lower case ("nvarchar", "rowversion", "sql_variant").
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// String returns the canonical SQL Server spelling of the type: "nvarchar(255)", "nvarchar(max)",
// "decimal(19,4)", "datetime2(7)", "float" (8 bytes), "real" (4 bytes), "sysname". ParseType of the
// result yields t again for every Type that ParseType returns.
func (t Type) String() string {
	switch t.Kind {
	case Decimal:
		return "decimal(" + strconv.Itoa(t.Precision) + "," + strconv.Itoa(t.Scale) + ")"
	case Char, NChar, Binary, VarChar, NVarChar, VarBinary:
		if t.Length == Max {
			return t.Kind.String() + "(max)"
		}
		return t.Kind.String() + "(" + strconv.Itoa(t.Length) + ")"
	case Time, DateTime2, DateTimeOffset:
		return t.Kind.String() + "(" + strconv.Itoa(t.Precision) + ")"
	}
	return t.Kind.String()
}

// IsText reports whether t holds character data with a length or size limit of its own kind: char,
// varchar, nchar, nvarchar, text, ntext and sysname. (xml, hierarchyid, geography, geometry and
// sql_variant also decode to strings, see IsString, but are not plain text.)
func (t Type) IsText() bool {
	switch t.Kind {
	case Char, VarChar, NChar, NVarChar, Text, NText, SysName:
		return true
	}
	return false
}

// IsString reports whether DecoderFor(t) returns Go strings: every text kind plus xml, hierarchyid,
// geography, geometry (WKT) and sql_variant.
func (t Type) IsString() bool {
	switch t.Kind {
	case XML, HierarchyID, Geography, Geometry, SQLVariant:
		return true
	}
	return t.IsText()
}

// IsBinary reports whether DecoderFor(t) returns []byte: binary, varbinary, image and rowversion.
func (t Type) IsBinary() bool {
	switch t.Kind {
	case Binary, VarBinary, Image, RowVersion:
		return true
	}
	return false
}

// IsInteger reports whether t is tinyint, smallint, int or bigint (decoded to int64). bit is not.
func (t Type) IsInteger() bool {
	switch t.Kind {
	case TinyInt, SmallInt, Int, BigInt:
		return true
	}
	return false
}

// IsDecimal reports whether t is an exact decimal (decimal, numeric, money, smallmoney), decoded to
// DecimalValue.
func (t Type) IsDecimal() bool {
	switch t.Kind {
	case Decimal, Money, SmallMoney:
		return true
	}
	return false
}

// IsFloat reports whether t is float or real, decoded to float64.
func (t Type) IsFloat() bool { return t.Kind == Float || t.Kind == Real }

// IsTemporal reports whether t is date, time, smalldatetime, datetime, datetime2 or datetimeoffset.
func (t Type) IsTemporal() bool {
	switch t.Kind {
	case Date, Time, SmallDateTime, DateTime, DateTime2, DateTimeOffset:
		return true
	}
	return false
}

// IsFixedLength reports whether t is char(n), nchar(n) or binary(n): SQL Server pads their values to
// n characters or bytes.
func (t Type) IsFixedLength() bool {
	switch t.Kind {
	case Char, NChar, Binary:
		return true
	}
	return false
}

// MaxLength returns the largest value t holds, in characters for text kinds (sysname: 128) and in bytes
// for binary kinds (rowversion: 8), and 0 when t is unbounded or has no length. Decoders enforce it.
func (t Type) MaxLength() int {
	switch t.Kind {
	case Char, VarChar, NChar, NVarChar, Binary, VarBinary, SysName:
		if t.Length > 0 {
			return t.Length
		}
	case RowVersion:
		return 8
	}
	return 0
}

// NumericPrecisionScale returns the precision and scale of an exact decimal kind: (p, s) for decimal,
// (19, 4) for money and (10, 4) for smallmoney; (0, 0) for any other kind.
func (t Type) NumericPrecisionScale() (precision, scale int) {
	switch t.Kind {
	case Decimal:
		return t.Precision, t.Scale
	case Money:
		return 19, 4
	case SmallMoney:
		return 10, 4
	}
	return 0, 0
}
