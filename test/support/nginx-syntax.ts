// The shape of an nginx config with every quoted token's contents erased: directive names,
// unquoted words, ";", "{" and "}". Two configs with equal shapes differ only inside
// quoted strings, so a user value cannot have added a directive or a block.
export function configShape(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '#') { while (i < text.length && text[i] !== '\n') i++; continue; }
    if (/\s/.test(c)) { i++; continue; }
    if (c === ';' || c === '{' || c === '}') { out.push(c); i++; continue; }
    if (c === '"' || c === "'") {
      i++;
      while (i < text.length && text[i] !== c) i += text[i] === '\\' ? 2 : 1;
      i++;
      out.push('<quoted>');
      continue;
    }
    let w = '';
    while (i < text.length && !/[\s;{}"'#]/.test(text[i])) w += text[i++];
    out.push(w.replace(/\d+/g, 'N'));
  }
  return out;
}
