package logql

import (
	"strconv"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// isCmpTok reports whether k compares a label with a value.
func isCmpTok(k tokKind) bool {
	switch k {
	case tokEq, tokEqEq, tokNeq, tokRe, tokNre, tokGt, tokGte, tokLt, tokLte:
		return true
	}
	return false
}

// isLineFilterValueAt reports whether a line filter operand starts at the
// current token: a string or ip("...").
func (p *parser) isLineFilterValueAt(n int) bool {
	t := p.peekAt(n)
	return t.kind == tokString || (t.kind == tokIdent && t.text == "ip" && p.peekAt(n+1).kind == tokLParen)
}

// parsePipeline reads the stages after a selector. With allowUnwrap an unwrap
// may end the pipeline, followed only by label filters.
func (p *parser) parsePipeline(allowUnwrap bool) ([]Stage, *Unwrap, error) {
	var stages []Stage
	for {
		switch p.peek().kind {
		case tokPipeEq, tokPipeRe, tokNre, tokPipePat, tokNotPat:
		case tokNeq:
			// != filters lines only when an operand follows; otherwise
			// it is a comparison for the caller to report.
			if !p.isLineFilterValueAt(1) {
				return stages, nil, nil
			}
		case tokPipe:
			p.next()
			if p.isIdent("unwrap") && !isCmpTok(p.peekAt(1).kind) {
				if !allowUnwrap {
					return nil, nil, p.errAt(p.peek().pos, "syntax error: unwrap is only allowed in range aggregations")
				}
				u, err := p.parseUnwrap()
				return stages, u, err
			}
			s, err := p.parseStage()
			if err != nil {
				return nil, nil, err
			}
			stages = append(stages, s)
			continue
		default:
			return stages, nil, nil
		}
		f, err := p.parseLineFilter()
		if err != nil {
			return nil, nil, err
		}
		stages = append(stages, f)
	}
}

func (p *parser) parseLineFilter() (*LineFilterExpr, error) {
	opTok := p.next()
	f := &LineFilterExpr{}
	switch opTok.kind {
	case tokPipeEq:
		f.Op = LineContains
	case tokNeq:
		f.Op = LineNotContains
	case tokPipeRe:
		f.Op = LineMatch
	case tokNre:
		f.Op = LineNotMatch
	case tokPipePat:
		f.Op = LinePattern
	default:
		f.Op = LineNotPattern
	}
	for {
		start := p.peek()
		v, err := p.parseLineFilterValue()
		if err != nil {
			return nil, err
		}
		if v.IP && f.Op != LineContains && f.Op != LineNotContains {
			return nil, p.errAt(start.pos, "syntax error: ip() is only allowed with |= and !=")
		}
		f.Values = append(f.Values, v)
		if _, err := compileLineFilterValue(f.Op, v); err != nil {
			return nil, p.errAt(start.pos, "%s", err)
		}
		if !p.isIdent("or") || !p.isLineFilterValueAt(1) {
			return f, nil
		}
		p.next()
	}
}

func (p *parser) parseLineFilterValue() (LineFilterValue, error) {
	if p.isIdent("ip") && p.peekAt(1).kind == tokLParen {
		s, err := p.parseIPCall()
		return LineFilterValue{Value: s, IP: true}, err
	}
	t, err := p.expect(tokString)
	return LineFilterValue{Value: t.text}, err
}

// parseIPCall reads ip("pattern").
func (p *parser) parseIPCall() (string, error) {
	p.next() // ip
	p.next() // (
	t, err := p.expect(tokString)
	if err != nil {
		return "", err
	}
	if _, err := parseIPPattern(t.text); err != nil {
		return "", p.errAt(t.pos, "%s", err)
	}
	if _, err := p.expect(tokRParen); err != nil {
		return "", err
	}
	return t.text, nil
}

// parseStage reads the stage after "|".
func (p *parser) parseStage() (Stage, error) {
	t := p.peek()
	if t.kind == tokIdent && !isCmpTok(p.peekAt(1).kind) {
		switch t.text {
		case "json":
			p.next()
			fields, err := p.parseParserFields(true)
			return &JSONParser{Fields: fields}, err
		case "logfmt":
			return p.parseLogfmt()
		case "pattern":
			p.next()
			s, err := p.expect(tokString)
			if err != nil {
				return nil, err
			}
			if _, err := compilePattern(s.text, true); err != nil {
				return nil, p.errAt(s.pos, "%s", err)
			}
			return &PatternParser{Pattern: s.text}, nil
		case "regexp":
			p.next()
			s, err := p.expect(tokString)
			if err != nil {
				return nil, err
			}
			if _, err := compileRegexpParser(s.text); err != nil {
				return nil, p.errAt(s.pos, "%s", err)
			}
			return &RegexpParser{Regexp: s.text}, nil
		case "unpack":
			p.next()
			return &UnpackParser{}, nil
		case "decolorize":
			p.next()
			return &Decolorize{}, nil
		case "line_format":
			p.next()
			s, err := p.expect(tokString)
			if err != nil {
				return nil, err
			}
			if err := checkTemplate(s.text); err != nil {
				return nil, p.errAt(s.pos, "%s", err)
			}
			return &LineFormat{Template: s.text}, nil
		case "label_format":
			return p.parseLabelFormat()
		case "drop", "keep":
			p.next()
			refs, err := p.parseLabelRefs()
			if err != nil {
				return nil, err
			}
			if t.text == "drop" {
				return &DropLabels{Labels: refs}, nil
			}
			return &KeepLabels{Labels: refs}, nil
		}
	}
	if t.kind != tokIdent && t.kind != tokLParen {
		return nil, p.unexpected("parser, formatter or label filter")
	}
	f, err := p.parseLabelFilter()
	if err != nil {
		return nil, err
	}
	return &LabelFilterStage{Filter: f}, nil
}

// parseParserFields reads the optional field list of json and logfmt:
// label["="path] {"," label["="path]}.
func (p *parser) parseParserFields(jsonPaths bool) ([]ParserField, error) {
	var fields []ParserField
	for p.peek().kind == tokIdent {
		f := ParserField{Label: p.next().text}
		if p.peek().kind == tokEq {
			p.next()
			s, err := p.expect(tokString)
			if err != nil {
				return nil, err
			}
			if s.text == "" {
				return nil, p.errAt(s.pos, "syntax error: empty field expression")
			}
			if jsonPaths {
				if _, err := parseJSONPath(s.text); err != nil {
					return nil, p.errAt(s.pos, "%s", err)
				}
			}
			f.Path = s.text
		}
		fields = append(fields, f)
		if p.peek().kind != tokComma {
			break
		}
		p.next()
		if p.peek().kind != tokIdent {
			return nil, p.unexpected("IDENTIFIER")
		}
	}
	return fields, nil
}

func (p *parser) parseLogfmt() (Stage, error) {
	p.next()
	lp := &LogfmtParser{}
	for p.peek().kind == tokFlag {
		t := p.next()
		switch t.text {
		case "strict":
			lp.Strict = true
		case "keep-empty":
			lp.KeepEmpty = true
		default:
			return nil, p.errAt(t.pos, "syntax error: unknown logfmt flag --%s, expecting --strict or --keep-empty", t.text)
		}
	}
	var err error
	lp.Fields, err = p.parseParserFields(false)
	return lp, err
}

func (p *parser) parseLabelFormat() (Stage, error) {
	p.next()
	lf := &LabelFormat{}
	seen := map[string]bool{}
	for {
		dst, err := p.expect(tokIdent)
		if err != nil {
			return nil, err
		}
		if seen[dst.text] {
			return nil, p.errAt(dst.pos, "syntax error: label %q appears more than once in label_format", dst.text)
		}
		if dst.text == errorLabel || dst.text == errorDetailsLabel {
			return nil, p.errAt(dst.pos, "syntax error: label_format cannot set %s", dst.text)
		}
		seen[dst.text] = true
		if _, err := p.expect(tokEq); err != nil {
			return nil, err
		}
		it := LabelFormatItem{Dst: dst.text}
		switch v := p.peek(); v.kind {
		case tokIdent:
			if v.text == errorLabel || v.text == errorDetailsLabel {
				return nil, p.errAt(v.pos, "syntax error: label_format cannot rename %s", v.text)
			}
			p.next()
			it.Src, it.Rename = v.text, true
		case tokString:
			p.next()
			if err := checkTemplate(v.text); err != nil {
				return nil, p.errAt(v.pos, "%s", err)
			}
			it.Src = v.text
		default:
			return nil, p.unexpected("STRING or IDENTIFIER")
		}
		lf.Items = append(lf.Items, it)
		if p.peek().kind != tokComma {
			return lf, nil
		}
		p.next()
	}
}

// parseLabelRefs reads the list of drop and keep: name or name op "value".
func (p *parser) parseLabelRefs() ([]LabelRef, error) {
	var refs []LabelRef
	for {
		if p.peek().kind != tokIdent {
			return nil, p.unexpected("IDENTIFIER")
		}
		if k := p.peekAt(1).kind; k == tokEq || k == tokNeq || k == tokRe || k == tokNre {
			m, err := p.parseMatcher()
			if err != nil {
				return nil, err
			}
			refs = append(refs, LabelRef{Name: m.Name, Matcher: &m})
		} else {
			refs = append(refs, LabelRef{Name: p.next().text})
		}
		if p.peek().kind != tokComma {
			return refs, nil
		}
		p.next()
	}
}

func (p *parser) parseUnwrap() (*Unwrap, error) {
	p.next() // unwrap
	u := &Unwrap{}
	t, err := p.expect(tokIdent)
	if err != nil {
		return nil, err
	}
	if p.peek().kind == tokLParen {
		switch t.text {
		case "duration":
			u.Conv = ConvDuration
		case "duration_seconds":
			u.Conv = ConvDurationSeconds
		case "bytes":
			u.Conv = ConvBytes
		default:
			return nil, p.errAt(t.pos, "syntax error: unknown unwrap conversion %q, expecting duration, duration_seconds or bytes", t.text)
		}
		p.next()
		if t, err = p.expect(tokIdent); err != nil {
			return nil, err
		}
		if _, err := p.expect(tokRParen); err != nil {
			return nil, err
		}
	}
	u.Label = t.text
	for p.peek().kind == tokPipe {
		p.next()
		if p.peek().kind != tokIdent && p.peek().kind != tokLParen {
			return nil, p.unexpected("label filter")
		}
		if t := p.peek(); t.kind == tokIdent && !isCmpTok(p.peekAt(1).kind) {
			return nil, p.errAt(t.pos, "syntax error: only label filters are allowed after unwrap, not %s", t.describe())
		}
		f, err := p.parseLabelFilter()
		if err != nil {
			return nil, err
		}
		u.Filters = append(u.Filters, f)
	}
	switch p.peek().kind {
	case tokPipeEq, tokPipeRe, tokNre, tokPipePat, tokNotPat, tokNeq:
		return nil, p.errAt(p.peek().pos, "syntax error: line filters are not allowed after unwrap")
	}
	return u, nil
}

// parseLabelFilter reads predicates joined by "and", "or", "," or mere
// juxtaposition (and), associating to the left.
func (p *parser) parseLabelFilter() (LabelFilter, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	left, err := p.parseLabelFilterPrimary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		and := true
		switch {
		case t.kind == tokComma:
			p.next()
		case t.kind == tokIdent && (t.text == "and" || t.text == "or") && !isCmpTok(p.peekAt(1).kind):
			p.next()
			and = t.text == "and"
		case t.kind == tokIdent && isCmpTok(p.peekAt(1).kind), t.kind == tokLParen:
			// juxtaposition
		default:
			return left, nil
		}
		right, err := p.parseLabelFilterPrimary()
		if err != nil {
			return nil, err
		}
		left = &BinaryFilter{And: and, Left: left, Right: right}
	}
}

func (p *parser) parseLabelFilterPrimary() (LabelFilter, error) {
	if p.peek().kind == tokLParen {
		p.next()
		f, err := p.parseLabelFilter()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tokRParen); err != nil {
			return nil, err
		}
		return f, nil
	}
	name, err := p.expect(tokIdent)
	if err != nil {
		return nil, err
	}
	opTok := p.peek()
	if !isCmpTok(opTok.kind) {
		return nil, p.unexpected("comparison operator")
	}
	p.next()
	v := p.peek()
	isString := opTok.kind == tokEq || opTok.kind == tokEqEq || opTok.kind == tokNeq ||
		opTok.kind == tokRe || opTok.kind == tokNre
	switch {
	case v.kind == tokString:
		if !isString {
			return nil, p.unexpected("NUMBER, DURATION or BYTES")
		}
		p.next()
		m := logmodel.Matcher{Name: name.text, Value: v.text}
		switch opTok.kind {
		case tokNeq:
			m.Type = logmodel.MatchNotEqual
		case tokRe:
			m.Type = logmodel.MatchRegexp
		case tokNre:
			m.Type = logmodel.MatchNotRegexp
		}
		if _, err := compileMatcher(m); err != nil {
			return nil, p.errAt(v.pos, "%s", err)
		}
		return &MatcherFilter{Matcher: m}, nil
	case v.kind == tokIdent && v.text == "ip" && p.peekAt(1).kind == tokLParen:
		if opTok.kind != tokEq && opTok.kind != tokEqEq && opTok.kind != tokNeq {
			return nil, p.errAt(opTok.pos, "syntax error: ip() needs = or !=")
		}
		pat, err := p.parseIPCall()
		if err != nil {
			return nil, err
		}
		return &IPFilter{Name: name.text, Negate: opTok.kind == tokNeq, Pattern: pat}, nil
	}
	if opTok.kind == tokRe || opTok.kind == tokNre {
		return nil, p.unexpected("STRING")
	}
	op := map[tokKind]CmpOp{
		tokEq: CmpEq, tokEqEq: CmpEq, tokNeq: CmpNe, tokGt: CmpGt, tokGte: CmpGe, tokLt: CmpLt, tokLte: CmpLe,
	}[opTok.kind]
	neg := false
	if k := p.peek().kind; k == tokSub || k == tokAdd {
		neg = p.next().kind == tokSub
	}
	v = p.peek()
	switch v.kind {
	case tokNumber:
		p.next()
		f, err := strconv.ParseFloat(v.text, 64)
		if err != nil {
			return nil, p.errAt(v.pos, "syntax error: number %s out of range", v.text)
		}
		if neg {
			f = -f
		}
		return &NumericFilter{Name: name.text, Op: op, Value: f}, nil
	case tokDuration:
		p.next()
		d, _ := parseDuration(v.text)
		if neg {
			d = -d
		}
		return &DurationFilter{Name: name.text, Op: op, Value: d}, nil
	case tokBytes:
		if !neg {
			p.next()
			b, _ := parseBytes(v.text)
			return &BytesFilter{Name: name.text, Op: op, Value: b}, nil
		}
	}
	return nil, p.unexpected("STRING, NUMBER, DURATION, BYTES or ip()")
}
