"""English texts of sandbox instances."""

from bot.conversation.texts.catalog import SandboxTexts

ENGLISH_SANDBOX = SandboxTexts(
    mark="🧪 Sandbox",
    instance="🧪 {instance}",
    code={
        "sms": "🧪 Sandbox SMS: your WhatsApp code is {code}",
        "voice": "🧪 Sandbox call: the voice reads out your WhatsApp code, {code}",
        "wa_old": "🧪 Sandbox pop-up: WhatsApp on the old phone shows the code {code}",
    },
    pin_reset=(
        "🧪 Sandbox e-mail: WhatsApp would now mail a link to reset the two-step PIN. On the "
        "sandbox, the PIN is {code}."
    ),
    device_prompt=(
        "🧪 Sandbox: the old phone now asks whether to move the account to this instance. The "
        "sandbox accepts for you: the first check still says not yet, the next one connects."
    ),
    email_code="🧪 Sandbox e-mail: your WhatsApp verification code is {code}",
    totals_note="🧪 Sandbox registrations left out: {count}",
)
