/** The loan case as the form holds it (text, as typed) and as the business layer takes it. */
export interface CaseFields {
  borrower: string;
  orgNumber: string;
  amountSek: string;
  purpose: string;
  notes: string;
}

/** What the draft store keeps: the fields, the case's id once saved, and the key its first save uses on every attempt. */
export interface CaseDraft {
  fields: CaseFields;
  caseId: string | null;
  idempotencyKey: string;
}

export const FIELDS: readonly (keyof CaseFields)[] = ['borrower', 'orgNumber', 'amountSek', 'purpose', 'notes'];

export const emptyFields = (): CaseFields => ({ borrower: '', orgNumber: '', amountSek: '', purpose: '', notes: '' });

export function readForm(form: HTMLFormElement): CaseFields {
  const fields = emptyFields();
  for (const name of FIELDS) fields[name] = (form.elements.namedItem(name) as HTMLInputElement | HTMLTextAreaElement).value;
  return fields;
}

export function fillForm(form: HTMLFormElement, fields: CaseFields): void {
  for (const name of FIELDS) (form.elements.namedItem(name) as HTMLInputElement | HTMLTextAreaElement).value = fields[name] ?? '';
  markInvalid(form, {});
}

/** Marks the fields the server refused (and clears the others). */
export function markInvalid(form: HTMLFormElement, errors: Record<string, string>): void {
  for (const name of FIELDS) {
    const input = form.elements.namedItem(name) as HTMLInputElement;
    if (errors[name]) {
      input.setAttribute('aria-invalid', 'true');
      input.title = errors[name];
    } else {
      input.removeAttribute('aria-invalid');
      input.title = '';
    }
  }
}

/** The JSON body: the amount as a number ("1 250 000" and "1250000,00" are read too). */
export function toCaseBody(fields: CaseFields): Record<string, unknown> {
  const amount = Number(fields.amountSek.replace(/[\s\u00a0\u202f]/g, '').replace(',', '.'));
  return { borrower: fields.borrower, orgNumber: fields.orgNumber, amountSek: fields.amountSek.trim() === '' ? null : amount, purpose: fields.purpose, notes: fields.notes };
}

export const hasContent = (fields: CaseFields): boolean => FIELDS.some((name) => (fields[name] ?? '').trim() !== '');
