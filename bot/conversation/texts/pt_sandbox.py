"""Textos em português das instâncias de teste (sandbox)."""

from bot.conversation.texts.catalog import SandboxTexts

PORTUGUESE_SANDBOX = SandboxTexts(
    mark="🧪 Teste",
    instance="🧪 {instance}",
    code={
        "sms": "🧪 SMS de teste: seu código do WhatsApp é {code}",
        "voice": "🧪 Ligação de teste: uma voz lê seu código do WhatsApp: {code}",
        "wa_old": "🧪 Pop-up de teste: o WhatsApp do celular antigo mostra o código {code}",
    },
    pin_reset=(
        "🧪 E-mail de teste: agora o WhatsApp mandaria um link para redefinir o PIN da "
        "confirmação em duas etapas. No teste, o PIN é {code}."
    ),
    device_prompt=(
        "🧪 Teste: o celular antigo agora pergunta se a conta pode ser transferida para esta "
        "instância. No teste, aceitamos por você: na primeira verificação ainda aparece que não "
        "foi aceita; na segunda, conecta."
    ),
    email_code="🧪 E-mail de teste: seu código de verificação do WhatsApp é {code}",
    totals_note="🧪 Cadastros de teste fora do total: {count}",
)
