package typemap

import (
	"errors"
	"strings"
)

// defaultFuncs maps the functions a dialect can express (lower case, without spaces) to their kind.
var defaultFuncs = map[string]DefaultKind{
	"getdate()":           DefaultNow,
	"current_timestamp":   DefaultNow,
	"sysdatetime()":       DefaultNow,
	"getutcdate()":        DefaultUTCNow,
	"sysutcdatetime()":    DefaultUTCNow,
	"sysdatetimeoffset()": DefaultNowOffset,
	"newid()":             DefaultNewID,
	"newsequentialid()":   DefaultNewID,
}

// parseDefault parses a ColumnInfo DefaultValue, e.g. "default ((0))", "default (N”)",
// "default (getdate())", "DEFAULT (NULL)" or "(0)" (the keyword is optional), into a dialect-neutral
// Default. The empty string means no default and yields nil, nil. Redundant parentheses, any case and
// spaces are accepted; string literals are unescaped (” → '). A well-formed expression that is not a
// literal, NULL or one of the known functions yields Kind DefaultUnsupported with Raw set, not an error:
// dialects drop it with a warning. Only text that is not an expression at all (unbalanced parentheses,
// an unterminated string) is an error.
func parseDefault(raw string) (*Default, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return nil, nil
	}
	if err := checkBalanced(s); err != nil {
		return nil, err
	}
	if len(s) >= 7 && strings.EqualFold(s[:7], "default") && (len(s) == 7 || !isIdentByte(s[7])) {
		s = strings.TrimSpace(s[7:])
	}
	for {
		inner, ok := stripParens(s)
		if !ok {
			break
		}
		s = inner
	}
	d := &Default{Raw: raw}
	if s == "" {
		d.Kind = DefaultUnsupported
		return d, nil
	}
	if strings.EqualFold(s, "null") {
		d.Kind = DefaultNull
		return d, nil
	}
	if lit, ok := stringLiteral(s); ok {
		d.Kind, d.Literal, d.IsString = DefaultLiteral, lit, true
		return d, nil
	}
	if num, ok := numberLiteral(s); ok {
		d.Kind, d.Literal = DefaultLiteral, num
		return d, nil
	}
	if k, ok := defaultFuncs[strings.ToLower(strings.Join(strings.Fields(s), ""))]; ok {
		d.Kind = k
		return d, nil
	}
	d.Kind = DefaultUnsupported
	return d, nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// checkBalanced verifies that parentheses outside string literals balance and every literal ends.
func checkBalanced(s string) error {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\'':
			j := i + 1
			for {
				if j >= len(s) {
					return errors.New("unterminated string literal")
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			i = j
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				return errors.New("unbalanced parentheses")
			}
		}
	}
	if depth != 0 {
		return errors.New("unbalanced parentheses")
	}
	return nil
}

// stripParens removes one pair of parentheses that encloses all of s ("(0)" → "0"), but not the
// parentheses of "(1)+(2)". s is known to be balanced.
func stripParens(s string) (string, bool) {
	if len(s) < 2 || s[0] != '(' || s[len(s)-1] != ')' {
		return s, false
	}
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\'':
			for i++; i < len(s); i++ {
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						i++
						continue
					}
					break
				}
			}
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 && i != len(s)-1 {
				return s, false
			}
		}
	}
	return strings.TrimSpace(s[1 : len(s)-1]), true
}

// stringLiteral unquotes s when all of it is one string literal, 'x' or N'x', with ” escapes.
func stringLiteral(s string) (string, bool) {
	if len(s) > 0 && (s[0] == 'N' || s[0] == 'n') {
		s = s[1:]
	}
	if len(s) < 2 || s[0] != '\'' || s[len(s)-1] != '\'' {
		return "", false
	}
	body := s[1 : len(s)-1]
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		if body[i] == '\'' {
			if i+1 < len(body) && body[i+1] == '\'' {
				b.WriteByte('\'')
				i++
				continue
			}
			return "", false // a quote that ends the literal early: 'a' + 'b'
		}
		b.WriteByte(body[i])
	}
	return b.String(), true
}

// numberLiteral accepts [+-]digits[.digits][e[+-]digits], also with parentheses around a signed
// number as SQL Server writes negative defaults: "(-1)" arrives here as "-1" or "-(1)". The returned
// literal drops a leading '+'.
func numberLiteral(s string) (string, bool) {
	sign := ""
	if s != "" && (s[0] == '-' || s[0] == '+') {
		if s[0] == '-' {
			sign = "-"
		}
		s = strings.TrimSpace(s[1:])
		for {
			inner, ok := stripParens(s)
			if !ok {
				break
			}
			s = inner
		}
	}
	i, digits := 0, 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return "", false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			exp++
		}
		if exp == 0 {
			return "", false
		}
	}
	if i != len(s) {
		return "", false
	}
	return sign + s, true
}
