package apispec

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Validate checks the decoded JSON value v (numbers as json.Number)
// against s.
func (d *Document) Validate(s *Schema, v any) error {
	return d.validate(s, v, "$")
}

func (d *Document) validate(s *Schema, v any, at string) error {
	if s.Ref != "" {
		return d.validate(d.schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")], v, at)
	}
	if v == nil {
		if s.Nullable || (s.Type == "" && len(s.AllOf) == 0 && len(s.OneOf) == 0) {
			return nil
		}
		return fmt.Errorf("%s: null is not allowed", at)
	}
	for _, x := range s.AllOf {
		if err := d.validate(x, v, at); err != nil {
			return err
		}
	}
	if len(s.OneOf) > 0 {
		var errs []error
		for _, x := range s.OneOf {
			if err := d.validate(x, v, at); err != nil {
				errs = append(errs, err)
			}
		}
		if n := len(s.OneOf) - len(errs); n != 1 {
			return fmt.Errorf("%s: matches %d of the oneOf schemas, not 1: %w", at, n, errors.Join(errs...))
		}
	}
	switch s.Type {
	case "":
		return nil
	case "object":
		return d.object(s, v, at)
	case "array":
		a, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: %s, want an array", at, kind(v))
		}
		if s.Items != nil {
			for i, x := range a {
				if err := d.validate(s.Items, x, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
		return nil
	case "string":
		str, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: %s, want a string", at, kind(v))
		}
		if s.Format == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				return fmt.Errorf("%s: %q is not an RFC3339 date-time", at, str)
			}
		}
		return nil
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: %s, want a boolean", at, kind(v))
		}
		return nil
	case "integer", "number":
		return number(s, v, at)
	}
	return fmt.Errorf("%s: the schema's type %q is not known", at, s.Type)
}

func (d *Document) object(s *Schema, v any, at string) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: %s, want an object", at, kind(v))
	}
	for _, name := range s.Required {
		if _, ok := m[name]; !ok {
			return fmt.Errorf("%s: required property %q is missing", at, name)
		}
	}
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		p, ok := s.Properties[name]
		switch {
		case ok:
		case s.additional != nil:
			p = s.additional
		case s.noAdditional:
			return fmt.Errorf("%s: property %q is not in the schema", at, name)
		default:
			continue
		}
		if err := d.validate(p, m[name], at+"."+name); err != nil {
			return err
		}
	}
	return nil
}

func number(s *Schema, v any, at string) error {
	n, ok := v.(json.Number)
	if !ok {
		return fmt.Errorf("%s: %s, want a number", at, kind(v))
	}
	f, err := n.Float64()
	if err != nil {
		return fmt.Errorf("%s: %v", at, err)
	}
	if s.Type == "integer" {
		bits := 64
		if s.Format == "int32" {
			bits = 32
		}
		// encoding/json writes Go integers as plain digits; unsigned ones
		// have a minimum of 0.
		if s.Minimum != nil && *s.Minimum >= 0 {
			_, err = strconv.ParseUint(n.String(), 10, bits)
		} else {
			_, err = strconv.ParseInt(n.String(), 10, bits)
		}
		if err != nil {
			return fmt.Errorf("%s: %s is not a %d-bit integer", at, n, bits)
		}
	}
	if s.Minimum != nil && f < *s.Minimum {
		return fmt.Errorf("%s: %s is below the minimum %v", at, n, *s.Minimum)
	}
	return nil
}

func kind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}
