import { createHash } from 'node:crypto';
import { DemoHttpError, jsonObject, splitPath, type Handler, type Route } from './demo-http';
import { parseOrgNumber } from './org-number';

/* The simulated business data (Capitex Företagslån) and the resources the demo upstreams serve. */

export type DemoKind = 'business' | 'credit-bureau' | 'archive';


interface Loan {
  id: string;
  orgNumber: string;
  borrower: string;
  product: string;
  amountSek: number;
  currency: 'SEK';
  interestRatePercent: number;
  termMonths: number;
  amortization: string;
  purpose: string;
  status: string;
  createdAt: string;
  updatedAt: string;
  [key: string]: unknown;
}

interface ArchivedDocument {
  id: string;
  title: string;
  loanId: string | null;
  orgNumber: string | null;
  contentType: string;
  sizeBytes: number;
  sha256: string;
  archivedAt: string;
}

export interface DemoData {
  loans: Map<string, Loan>;
  documents: Map<string, ArchivedDocument>;
  nextLoanId: number;
  nextApplicationId: number;
  nextDocumentId: number;
}

/** Fictional companies with valid Swedish organisation numbers (Luhn check digit). */
const COMPANIES: Record<string, string> = {
  '556677-8899': 'Norrlandsbygg i Umeå AB',
  '559102-3451': 'Vätterns Fisk & Rökeri AB',
  '556123-4013': 'Mälardalens Verkstadsteknik AB',
  '556900-1232': 'Skånska Lantbruksmaskiner AB',
  '556447-8120': 'Göteborgs Kaffe & Konditori AB',
};

export function seed(kind: DemoKind): DemoData {
  const loans = new Map<string, Loan>();
  const documents = new Map<string, ArchivedDocument>();
  if (kind === 'business') {
    const base = { product: 'Capitex Företagslån', currency: 'SEK' as const };
    for (const loan of [
      { id: '1001', orgNumber: '556677-8899', amountSek: 2_500_000, interestRatePercent: 5.45, termMonths: 60, amortization: 'straight', purpose: 'Ny hjullastare', status: 'active', createdAt: '2024-03-12T09:15:00.000Z' },
      { id: '1002', orgNumber: '559102-3451', amountSek: 750_000, interestRatePercent: 6.1, termMonths: 36, amortization: 'annuity', purpose: 'Rörelsekapital inför högsäsong', status: 'approved', createdAt: '2024-11-04T13:40:00.000Z' },
      { id: '1003', orgNumber: '556123-4013', amountSek: 4_200_000, interestRatePercent: 4.95, termMonths: 84, amortization: 'straight', purpose: 'CNC-maskin och lokalanpassning', status: 'in-review', createdAt: '2025-01-20T08:05:00.000Z' },
    ]) {
      loans.set(loan.id, { ...base, ...loan, borrower: COMPANIES[loan.orgNumber] ?? 'Okänt AB', updatedAt: loan.createdAt });
    }
  }
  if (kind === 'archive') {
    for (const doc of [
      { id: 'D-5001', title: 'Årsredovisning 2023', loanId: '1001', orgNumber: '556677-8899', contentType: 'application/pdf', sizeBytes: 482_113, archivedAt: '2024-03-10T10:00:00.000Z' },
      { id: 'D-5002', title: 'Låneavtal Capitex Företagslån 1001', loanId: '1001', orgNumber: '556677-8899', contentType: 'application/pdf', sizeBytes: 96_530, archivedAt: '2024-03-12T09:20:00.000Z' },
      { id: 'D-5003', title: 'Företagsinteckning, pantbrev', loanId: '1003', orgNumber: '556123-4013', contentType: 'application/pdf', sizeBytes: 57_204, archivedAt: '2025-01-21T14:30:00.000Z' },
    ]) {
      documents.set(doc.id, { ...doc, sha256: sha256(doc.id) });
    }
  }
  return { loans, documents, nextLoanId: 1004, nextApplicationId: 1, nextDocumentId: 5004 };
}

export function businessRoutes(kind: DemoKind, data: () => DemoData): Route[] {
  const route = (path: string, methods: Route['methods']): Route => ({ segments: splitPath(path), methods });
  switch (kind) {
    case 'business':
      return [
        route('/loans', {
          GET: () => {
            const items = [...data().loans.values()];
            return { status: 200, body: { items, total: items.length } };
          },
          POST: ({ body }) => {
            const input = jsonObject(body);
            const orgNumber = requireOrgNumber(input.orgNumber);
            const amountSek = requireAmount(input.amountSek);
            const now = new Date().toISOString();
            const d = data();
            const id = String(d.nextLoanId++);
            const loan: Loan = {
              product: 'Capitex Företagslån',
              interestRatePercent: 5.75,
              termMonths: 60,
              amortization: 'straight',
              purpose: '',
              status: 'pending',
              borrower: COMPANIES[orgNumber] ?? `Företag ${orgNumber} AB`,
              ...input,
              id,
              orgNumber,
              amountSek,
              currency: 'SEK',
              createdAt: now,
              updatedAt: now,
            };
            d.loans.set(id, loan);
            return { status: 201, body: loan, headers: { Location: `/loans/${id}` } };
          },
        }),
        route('/loans/:id', {
          GET: ({ params }) => ({ status: 200, body: findLoan(data(), params.id) }),
          PUT: ({ params, body }) => {
            const loan = findLoan(data(), params.id);
            const input = jsonObject(body);
            const updated: Loan = { ...loan, ...input, id: loan.id, currency: 'SEK', createdAt: loan.createdAt, updatedAt: new Date().toISOString() };
            if (input.orgNumber !== undefined) updated.orgNumber = requireOrgNumber(input.orgNumber);
            if (input.amountSek !== undefined) updated.amountSek = requireAmount(input.amountSek);
            data().loans.set(loan.id, updated);
            return { status: 200, body: updated };
          },
        }),
        route('/loan-applications', {
          POST: ({ body }) => {
            const input = jsonObject(body);
            const orgNumber = requireOrgNumber(input.orgNumber);
            const amountSek = requireAmount(input.amountSek);
            const { riskClass } = creditAssessment(orgNumber);
            const decision = riskClass >= 5 ? 'declined' : riskClass <= 2 && amountSek <= 5_000_000 ? 'approved' : 'referred';
            const reason = {
              approved: `risk class ${riskClass} and amount within the automatic limit`,
              referred: `risk class ${riskClass}${amountSek > 5_000_000 ? ' and amount above 5 000 000 SEK' : ''}: referred to a credit officer`,
              declined: `risk class ${riskClass}: outside the bank's credit policy`,
            }[decision];
            const d = data();
            const applicationId = `A-${String(d.nextApplicationId++).padStart(5, '0')}`;
            return {
              status: 201,
              body: {
                applicationId,
                orgNumber,
                applicant: COMPANIES[orgNumber] ?? `Företag ${orgNumber} AB`,
                product: 'Capitex Företagslån',
                amountSek,
                termMonths: typeof input.termMonths === 'number' ? input.termMonths : 60,
                purpose: typeof input.purpose === 'string' ? input.purpose : '',
                riskClass,
                decision,
                reason,
                receivedAt: new Date().toISOString(),
              },
              headers: { Location: `/loan-applications/${applicationId}` },
            };
          },
        }),
      ];
    case 'credit-bureau': {
      const report: Handler = ({ params }) => {
        const orgNumber = requireOrgNumber(params.orgNumber);
        const { riskClass, score, paymentRemarks } = creditAssessment(orgNumber);
        return {
          status: 200,
          body: {
            orgNumber,
            name: COMPANIES[orgNumber] ?? `Företag ${orgNumber} AB`,
            riskClass,
            riskDescription: ['', 'mycket låg risk', 'låg risk', 'normal risk', 'förhöjd risk', 'hög risk'][riskClass],
            score,
            paymentRemarks,
            bureau: 'Demo Kreditupplysning AB',
            reportedAt: new Date().toISOString(),
          },
        };
      };
      return [route('/reports/:orgNumber', { GET: report }), route('/credit-reports/:orgNumber', { GET: report })];
    }
    case 'archive':
      return [
        route('/documents', {
          POST: ({ body }) => {
            const input = jsonObject(body);
            if (typeof input.title !== 'string' || input.title.trim() === '') {
              throw new DemoHttpError(400, 'validation_failed', 'title: expected a non-empty string');
            }
            const content = typeof input.content === 'string' ? input.content : '';
            const d = data();
            const doc: ArchivedDocument = {
              id: `D-${d.nextDocumentId++}`,
              title: input.title,
              loanId: typeof input.loanId === 'string' ? input.loanId : null,
              orgNumber: input.orgNumber === undefined ? null : requireOrgNumber(input.orgNumber),
              contentType: typeof input.contentType === 'string' ? input.contentType : 'application/octet-stream',
              sizeBytes: Buffer.byteLength(content),
              sha256: sha256(content),
              archivedAt: new Date().toISOString(),
            };
            d.documents.set(doc.id, doc);
            return { status: 201, body: doc, headers: { Location: `/documents/${doc.id}` } };
          },
        }),
        route('/documents/:id', {
          GET: ({ params }) => {
            const doc = data().documents.get(params.id ?? '');
            if (!doc) throw new DemoHttpError(404, 'not_found', `no document ${params.id}`);
            return { status: 200, body: doc };
          },
        }),
      ];
  }
}

function findLoan(data: DemoData, id: string | undefined): Loan {
  const loan = data.loans.get(id ?? '');
  if (!loan) throw new DemoHttpError(404, 'not_found', `no loan ${id}`);
  return loan;
}

/** Deterministic per organisation number, so the same company always gets the same report. */
function creditAssessment(orgNumber: string): { riskClass: number; score: number; paymentRemarks: number } {
  const digits = orgNumber.replace('-', '');
  const h = createHash('sha256').update(digits).digest();
  const riskClass = ((h[0] ?? 0) % 5) + 1;
  const score = Math.max(1, 100 - (riskClass - 1) * 20 - ((h[1] ?? 0) % 20));
  const paymentRemarks = riskClass >= 4 ? ((h[2] ?? 0) % 3) + 1 : 0;
  return { riskClass, score, paymentRemarks };
}

/** `NNNNNN-NNNN` (the hyphen optional on input) with a valid Luhn check digit. */
function requireOrgNumber(value: unknown): string {
  const parsed = parseOrgNumber(value);
  if (!parsed.ok) throw new DemoHttpError(400, 'validation_failed', `orgNumber: ${parsed.message}`);
  return parsed.value;
}

function requireAmount(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 1_000_000_000) {
    throw new DemoHttpError(400, 'validation_failed', 'amountSek: expected a positive amount in SEK');
  }
  return value;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
