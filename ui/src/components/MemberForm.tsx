import { useState, type FormEvent, type KeyboardEvent } from "react";
import { commands, type Member } from "../bindings";
import { call } from "../api";
import {
  dayOf,
  emptyMemberForm,
  memberFormProblem,
  monthsAfter,
  newMemberRequest,
  TERMS,
  type MemberForm as Form,
} from "../state/members";

interface Props {
  /** The card just scanned that nobody has, if the form was opened from it. */
  card: string | null;
  /** Saved on the server: the desk checks the new member in next. */
  onSaved: (member: Member) => void;
  onClose: () => void;
}

/** A walk-in: name, card, phone, membership end. Esc closes it; the scan field gets the focus back. */
export function MemberForm({ card, onSaved, onClose }: Props) {
  const today = dayOf(new Date());
  const [form, setForm] = useState<Form>(() => emptyMemberForm(card ?? "", today));
  const [problem, setProblem] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);

  const set = (field: keyof Form) => (e: { target: { value: string } }) => {
    setForm((f) => ({ ...f, [field]: e.target.value }));
    setProblem(null);
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (saving) return;
    const wrong = memberFormProblem(form, today);
    if (wrong) {
      setProblem(wrong);
      return;
    }
    setSaving(true);
    const r = await call(() => commands.createMember(newMemberRequest(form)));
    setSaving(false);
    if (r.ok) onSaved(r.data);
    else setProblem(r.error.message);
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      onClose();
    }
  };

  return (
    <section className="member-form-panel" aria-label="Add a member">
      <form className="member-form" data-testid="member-form" data-own-focus onSubmit={submit} onKeyDown={onKeyDown}>
        <h2 className="member-form-title">Add a member{card ? ` with card ${card}` : ""}</h2>
        <div className="member-form-grid">
          <label className="field">
            <span>Name</span>
            <input
              type="text"
              data-testid="member-name"
              value={form.name}
              onChange={set("name")}
              autoFocus
              autoComplete="off"
              maxLength={200}
            />
          </label>
          <label className="field">
            <span>Card (scan it here)</span>
            <input
              type="text"
              data-testid="member-card"
              data-card-field
              value={form.card}
              onChange={set("card")}
              autoComplete="off"
              spellCheck={false}
              maxLength={64}
              onKeyDown={(e) => {
                // A card reader ends its code with Enter: take the code, do not submit.
                if (e.key === "Enter") e.preventDefault();
              }}
            />
          </label>
          <label className="field">
            <span>Phone (optional)</span>
            <input type="tel" data-testid="member-phone" value={form.phone} onChange={set("phone")} autoComplete="off" maxLength={40} />
          </label>
          <div className="field">
            <label htmlFor="member-valid-until">Membership runs until (year-month-day)</label>
            <div className="member-term">
              <input
                id="member-valid-until"
                type="text"
                inputMode="numeric"
                placeholder="YYYY-MM-DD"
                data-testid="member-valid-until"
                value={form.validUntil}
                onChange={set("validUntil")}
                autoComplete="off"
                maxLength={10}
              />
              {TERMS.map((t) => (
                <button
                  key={t.months}
                  type="button"
                  className="btn btn-small btn-quiet"
                  onClick={() => {
                    setForm((f) => ({ ...f, validUntil: monthsAfter(today, t.months) }));
                    setProblem(null);
                  }}
                >
                  {t.label}
                </button>
              ))}
            </div>
          </div>
        </div>
        {problem && (
          <p className="field-error" role="alert" data-testid="member-form-error">
            {problem}
          </p>
        )}
        <div className="member-form-actions">
          <button type="submit" className="btn btn-primary btn-big" data-testid="member-save" disabled={saving}>
            {saving ? "Saving…" : "Save and check in"}
          </button>
          <button type="button" className="btn btn-quiet" data-testid="member-cancel" onClick={onClose}>
            Cancel (Esc)
          </button>
        </div>
      </form>
    </section>
  );
}
