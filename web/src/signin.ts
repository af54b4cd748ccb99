/** The sign-in overlay (#signin in index.html): a modal form over the terminal, which is inert while
 * it shows. Test hooks on #signin: data-state = open | submitting | error. */

export class SignInForm {
  private readonly form: HTMLFormElement;
  private readonly username: HTMLInputElement;
  private readonly password: HTMLInputElement;
  private readonly error: HTMLElement;
  private readonly submitButton: HTMLButtonElement;

  /**
   * `root`: the overlay; `behind`: the elements made inert while it shows; `submit`: signs in,
   * rejecting with an Error whose message is shown on the form.
   */
  constructor(
    private readonly root: HTMLElement,
    private readonly behind: HTMLElement[],
    private readonly submit: (username: string, password: string) => Promise<unknown>,
  ) {
    const q = <T extends HTMLElement>(sel: string) => root.querySelector(sel) as T;
    this.form = q<HTMLFormElement>('form');
    this.username = q<HTMLInputElement>('input[name=username]');
    this.password = q<HTMLInputElement>('input[name=password]');
    this.error = q<HTMLElement>('.signin-error');
    this.submitButton = q<HTMLButtonElement>('button[type=submit]');
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.send();
    });
  }

  get visible(): boolean {
    return !this.root.hidden;
  }

  /** Show the form (with `message`, e.g. why the session ended) and focus the first empty field. */
  show(message: string | null): void {
    for (const el of this.behind) el.toggleAttribute('inert', true);
    this.root.hidden = false;
    this.setError(message);
    this.busy(false);
    this.password.value = '';
    (this.username.value ? this.password : this.username).focus();
  }

  hide(): void {
    this.root.hidden = true;
    this.password.value = '';
    for (const el of this.behind) el.toggleAttribute('inert', false);
  }

  private async send(): Promise<void> {
    const username = this.username.value.trim();
    if (!username || !this.password.value) {
      this.setError('enter your user name and password');
      (username ? this.password : this.username).focus();
      return;
    }
    this.setError(null);
    this.busy(true);
    try {
      await this.submit(username, this.password.value);
    } catch (e) {
      this.busy(false);
      this.setError((e as Error).message || String(e));
      this.password.value = '';
      this.password.focus();
    }
  }

  private busy(on: boolean): void {
    this.submitButton.disabled = on;
    this.username.readOnly = on;
    this.password.readOnly = on;
    this.root.dataset.state = on ? 'submitting' : this.error.textContent ? 'error' : 'open';
  }

  private setError(text: string | null): void {
    this.error.textContent = text ?? '';
    this.error.hidden = !text;
    this.root.dataset.state = text ? 'error' : 'open';
  }
}
