// The admin's actions on a task page: quarantine (with a reason) and annotate (a JSON object
// merged into the metadata), each in a modal <dialog> (Escape closes it). Rendered only for
// the admin token; the API refuses them to anyone else anyway. A refusal shows the API's message.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, errorText } from './api.js';

function ActionDialog({
  open,
  title,
  close,
  children,
  confirm,
  confirmLabel,
  testid,
  error,
  busy,
  danger,
}: {
  open: boolean;
  title: string;
  close: () => void;
  children: ComponentChildren;
  confirm: () => void;
  confirmLabel: string;
  testid: string;
  error: string | null;
  busy: boolean;
  danger?: boolean;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const element = dialog.current!;
    if (open && !element.open) element.showModal();
    if (!open && element.open) element.close();
  }, [open]);
  return (
    <dialog ref={dialog} class="dialog" aria-label={title} onClose={close} onCancel={close}>
      <form
        method="dialog"
        onSubmit={(event) => {
          event.preventDefault();
          confirm();
        }}
      >
        <h2>{title}</h2>
        {children}
        {error && (
          <p class="error-note" role="alert" data-testid="action-error">
            {error}
          </p>
        )}
        <div class="dialog-buttons">
          <button type="button" class="quiet" onClick={close}>
            Cancel
          </button>
          <button type="submit" class={danger ? 'danger' : 'primary'} data-testid={testid} disabled={busy}>
            {busy ? 'Working…' : confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}

export function TaskActions({ id, done }: { id: string; done: () => void }) {
  const [which, setWhich] = useState<'quarantine' | 'annotate' | null>(null);
  const [reason, setReason] = useState('');
  const [metadata, setMetadata] = useState('{\n  \n}');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const open = (action: 'quarantine' | 'annotate') => {
    setError(null);
    setWhich(action);
  };
  const close = () => {
    setWhich(null);
    setBusy(false);
  };
  const run = async (action: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
      close();
      done();
    } catch (failure) {
      setError(errorText(failure));
      setBusy(false);
    }
  };

  const quarantine = () => {
    // An empty reason goes to the API too: its refusal is what the page shows.
    void run(() => api.quarantine(id, reason.trim()));
  };
  const annotate = () => {
    let value: unknown;
    try {
      value = JSON.parse(metadata);
    } catch (failure) {
      return setError(`Not JSON: ${errorText(failure)}`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return setError('The metadata must be a JSON object, e.g. {"ticket": "OPS-12"}.');
    void run(() => api.annotate(id, value as Record<string, unknown>));
  };

  return (
    <div class="actions">
      <button type="button" data-testid="annotate" onClick={() => open('annotate')}>
        Annotate…
      </button>
      <button type="button" class="danger" data-testid="quarantine" onClick={() => open('quarantine')}>
        Quarantine…
      </button>
      <ActionDialog open={which === 'quarantine'} title={`Quarantine ${id}`} close={close} confirm={quarantine} confirmLabel="Quarantine" testid="quarantine-confirm" error={which === 'quarantine' ? error : null} busy={busy} danger>
        <p class="muted small">The task stops for good: no agent can claim it again. Its lease, if any, is revoked.</p>
        <label class="field block">
          <span>Reason</span>
          <textarea name="reason" rows={3} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        </label>
      </ActionDialog>
      <ActionDialog open={which === 'annotate'} title={`Annotate ${id}`} close={close} confirm={annotate} confirmLabel="Annotate" testid="annotate-confirm" error={which === 'annotate' ? error : null} busy={busy}>
        <p class="muted small">A JSON object; its keys are merged into the task's metadata.</p>
        <label class="field block">
          <span>Metadata</span>
          <textarea name="metadata" rows={6} class="mono" value={metadata} onInput={(e) => setMetadata(e.currentTarget.value)} />
        </label>
      </ActionDialog>
    </div>
  );
}
