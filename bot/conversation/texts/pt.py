"""Textos em português do Brasil."""

from bot.conversation.texts.catalog import Catalog
from bot.conversation.texts.pt_access import PORTUGUESE_ACCESS
from bot.conversation.texts.pt_admin import PORTUGUESE_ADMIN
from bot.conversation.texts.pt_history import PORTUGUESE_HISTORY
from bot.conversation.texts.pt_sandbox import PORTUGUESE_SANDBOX
from bot.conversation.texts.pt_setup import PORTUGUESE_SETUP

PORTUGUESE = Catalog(
    language="pt",
    command_start="O que este bot faz",
    command_register="Começar um registro, ou retomar o que está em andamento",
    command_status="Passo atual, instância, número e esperas",
    command_cancel="Encerrar o registro e liberar a instância",
    command_back="Voltar um passo",
    command_help="Como usar o bot",
    command_language="English / Português",
    language_switched="🇧🇷 Daqui pra frente eu escrevo em português. /language volta pro inglês.",
    command_allow="Liberar o acesso de alguém: /allow ID",
    command_deny="Tirar o acesso de alguém: /deny ID",
    command_members="Quem pode usar o bot, e por quê",
    command_release="Liberar uma instância: /release INSTÂNCIA",
    bot_description=(
        "Registra os números da sua equipe como contas de WhatsApp nas instâncias mobile da "
        "Z-API, passo a passo: instância, número, código, pronto. Sem abrir o painel da "
        "Z-API.\n\nToque em “Iniciar” e mande /register."
    ),
    bot_short_description="Registre números de WhatsApp nas instâncias Z-API da sua equipe.",
    start=(
        "👋 Eu registro números de telefone como contas de WhatsApp nas instâncias mobile da "
        "Z-API da equipe.\n\n"
        "Envie /register e eu guio você: DDI, número, como o WhatsApp deve enviar o código e "
        "depois o próprio código. Leva cerca de um minuto.\n\n"
        "/help mostra tudo o que eu entendo."
    ),
    help_footer=(
        "Os botões são atalhos: você sempre pode digitar a resposta (⬅ Voltar é o /back). "
        "Se o bot reiniciar, é só continuar de onde parou."
    ),
    private_only="Fale comigo numa conversa privada: registros envolvem códigos e PINs.",
    no_flow="Nenhum registro em andamento. Envie /register para começar.",
    stale_button="Esse botão é de um passo anterior.",
    cancel_confirm=(
        "Cancelar este registro? O número {number} já foi verificado: você teria que começar "
        "de novo."
    ),
    cancel_confirm_waits=(
        "Os tempos de espera do WhatsApp para ele ({waits}) continuam valendo: um registro "
        "novo também teria que esperar."
    ),
    button_cancel_sure="✖ Sim, cancelar",
    button_keep_going="↩ Não, continuar",
    cancelled="Registro cancelado, e a instância está livre de novo. /register recomeça.",
    nothing_to_cancel="Nada para cancelar: não há registro em andamento.",
    idle_timeout=(
        "⌛ Sem resposta por {duration}, então encerrei o registro e liberei a instância. "
        "Envie /register para começar de novo."
    ),
    resumed="Continuando de onde você parou.",
    text_only="Aqui eu só consigo ler texto. {expected}",
    contact_unreadable=(
        "Não consegui ler um número nesse contato. Digite o número, por exemplo +55 44 99999-9999."
    ),
    edited_not_taken=(
        "Aqui eu só leio mensagens novas: mande a resposta corrigida numa mensagem nova."
    ),
    too_long="Essa mensagem é longa demais para este passo. {expected}",
    command_here="Esse comando não funciona no meio de um registro. {expected}",
    first_step="Este já é o primeiro passo.",
    step_indicator="Passo {n}/{total} · {name}",
    unexpected_error="Algo deu errado do meu lado. Seu progresso está salvo: tente de novo.",
    button_back="⬅ Voltar",
    button_cancel="✖ Cancelar",
    button_try_again="🔁 Tentar de novo",
    button_yes="Sim, usar",
    button_no="Não, redigitar",
    button_appeal="📝 Recorrer do banimento",
    button_change_number="✏ Trocar número",
    button_didnt_get_it="🔁 Não recebi",
    button_forgot_pin="🔑 Esqueci o PIN",
    button_device_accepted="✅ Já aceitei",
    button_connected="{name} · conectada",
    button_replace="✅ Sim, substituir",
    ask_replace=(
        "⚠ A {instance} está conectada ao WhatsApp agora. Registrar outro número nela "
        "desconecta o que está lá. Substituir?"
    ),
    ask_replace_number=(
        "⚠ A {instance} está conectada ao WhatsApp agora, com o {number}. Registrar outro "
        "número nela desconecta esse. Substituir?"
    ),
    button_busy="{name} (ocupada)",
    button_wait="{method} — aguarde {wait}",
    button_unavailable="{method} — indisponível",
    ask_instance="Em qual instância o número deve ficar?",
    instance_busy_now=(
        "{instance} está ocupada com o registro de outro membro. "
        "Mande /register para escolher outra."
    ),
    instance_busy="{instance} está ocupada com o registro de outro membro. Escolha outra.",
    all_instances_busy=(
        "Todas as instâncias estão ocupadas com registros de outros membros agora. "
        "Tente /register de novo em alguns minutos."
    ),
    unknown_instance="Toque num dos botões de instância, ou digite o nome dela.",
    ask_ddi=(
        "Envie o código do país (DDI), por exemplo 55 para o Brasil ou 1 para os EUA.\n"
        "Você também pode colar o número inteiro com o + (ex.: +55 44 99999-9999)."
    ),
    bad_ddi="Isso não é um código de país. Envie dígitos como 55 ou +55.",
    ask_phone="Agora o número para +{ddi}: DDD e número, por exemplo 44 99999-9999.",
    phone_not_digits="Um número de telefone só tem dígitos (espaços, traços e parênteses podem).",
    phone_too_short="Curto demais para um número de telefone: inclua o DDD.",
    phone_too_long="Mais longo do que qualquer número pode ser (15 dígitos com o DDI).",
    phone_confirm="{number} não parece um número válido para +{ddi}. Usar mesmo assim?",
    phone_confirm_hint="Responda sim ou não.",
    phone_confirm_causes={
        "55": "Celular no Brasil tem 9 dígitos depois do DDD, por exemplo 44 99999-9999.",
        "*": "Confira o código de área e a quantidade de dígitos.",
    },
    banned_appeal=(
        "🚫 {number} está banido pelo WhatsApp. Você pode recorrer: toque no botão (ou digite "
        "recorrer) e diga por que ele não deveria estar banido."
    ),
    banned_no_appeal=(
        "🚫 {number} está banido pelo WhatsApp, e não é possível recorrer. "
        "Tente outro número com “Trocar número”."
    ),
    banned_hint="Toque em “Recorrer” (ou digite recorrer), ou em “Trocar número”.",
    unavailable=(
        "{number} não pode ser registrado agora: o WhatsApp não permite. O registro foi "
        "encerrado e a instância ficou livre; envie /register para tentar outro número, ou este "
        "de novo mais tarde."
    ),
    ask_appeal=(
        "Descreva em uma ou duas frases por que este número não deveria estar banido "
        "(de 10 a 500 caracteres)."
    ),
    appeal_length="A descrição precisa ter de 10 a 500 caracteres.",
    appeal_in_review=(
        "📨 Recurso enviado: o WhatsApp está analisando. O registro foi encerrado; "
        "tente /register de novo quando o banimento for retirado."
    ),
    appeal_unbanned="🎉 O número não está mais banido. Verificando de novo…",
    appeal_refused=(
        "O WhatsApp não aceitou o recurso, então o número continua banido. O registro foi "
        "encerrado e a instância ficou livre: envie /register para registrar outro número."
    ),
    method_names={"sms": "SMS", "voice": "Ligação", "wa_old": "Pop-up do WhatsApp"},
    method_words={
        "sms": "sms",
        "mensagem": "sms",
        "voice": "voice",
        "voz": "voice",
        "ligação": "voice",
        "ligacao": "voice",
        "chamada": "voice",
        "wa_old": "wa_old",
        "whatsapp": "wa_old",
        "popup": "wa_old",
        "pop-up": "wa_old",
    },
    yes_words=frozenset({"sim", "s", "ok"}),
    no_words=frozenset({"não", "nao", "n"}),
    done_words=frozenset({"pronto", "aceitei", "feito", "sim", "ok"}),
    appeal_words=frozenset({"recorrer", "recurso"}),
    ask_method="Como o WhatsApp deve enviar o código para {number}?",
    popup_note=(
        "Pop-up do WhatsApp: o código aparece no WhatsApp do celular que está com este número "
        "agora. Escolha só se você tiver esse celular em mãos."
    ),
    method_unknown="Toque num botão ou digite SMS, ligação ou pop-up.",
    method_blocked="{method} não está disponível para este número. Escolha outra forma.",
    method_not_eligible="{method} não pode ser usado para este número. Escolha outra forma.",
    method_waiting="O envio por {method} libera de novo em {wait}. Eu aviso quando liberar.",
    waits_header=(
        "O WhatsApp pede para esperar antes de pedir de novo: cada botão mostra quanto falta."
    ),
    wait_over="⏰ Você já pode pedir o código por {methods}.",
    code_sent={
        "sms": "📩 Código enviado por SMS para {number}. Envie-o aqui quando chegar (6 dígitos).",
        "voice": "📞 O WhatsApp está ligando para {number} para ditar o código. Envie-o aqui.",
        "wa_old": (
            "📲 Procure o pop-up do WhatsApp no celular que está com {number}. "
            "Envie o código aqui (6 dígitos)."
        ),
    },
    code_maybe_sent=(
        "Mas o código ainda pode chegar: se chegar, é só mandar aqui. Se não chegar, toque em "
        "“Não recebi”."
    ),
    request_failed="O WhatsApp não conseguiu enviar o código por {method}. Escolha outra.",
    captcha_caption="🧩 O WhatsApp pede um captcha antes. Digite os caracteres desta imagem.",
    captcha_bad_input="Digite só os caracteres da imagem (letras e números).",
    captcha_wrong="Não é isso. Olhe a imagem de novo e digite os caracteres.",
    captcha_resume=(
        "Digite os caracteres da imagem do captcha acima. Sem a imagem? Toque em “Não recebi” "
        "para pedir o código (e uma imagem nova) de novo."
    ),
    captcha_ok="✅ Captcha aceito. O código está a caminho por {method}: envie-o aqui.",
    ask_code="Envie o código de 6 dígitos que o WhatsApp mandou para {number}.",
    bad_code="Envie o código de 6 dígitos, como 123456 ou 123-456.",
    wrong_code="Esse código não foi aceito. Confira e envie de novo.",
    wrong_code_many=(
        "O código foi recusado {count} vezes. Códigos expiram: toque em “Não recebi” para pedir "
        "outro."
    ),
    ask_pin=(
        "🔐 Este número tem a confirmação em duas etapas ativada. Envie o PIN de 6 dígitos "
        "dela (não é o código que chegou por SMS); eu apago a sua mensagem na hora."
    ),
    bad_pin="O PIN da confirmação em duas etapas tem 6 dígitos.",
    wrong_pin="PIN errado. Tente de novo, ou toque em “Esqueci o PIN”.",
    pin_recovery_sent=(
        "📧 O WhatsApp está enviando um link de redefinição para o e-mail cadastrado nesta "
        "conta. Siga o link e envie o novo PIN aqui."
    ),
    pin_recovery_failed="O WhatsApp não conseguiu enviar o e-mail. Tente daqui a pouco.",
    device_confirm=(
        "📱 Abra o WhatsApp no celular que está com {number} agora e aceite a transferência. "
        "Depois toque em “Já aceitei” (ou digite pronto)."
    ),
    device_hint="Aceite a transferência no celular antigo e toque em “Já aceitei” (ou: pronto).",
    device_not_yet=(
        "A transferência ainda não foi aceita. Aceite no celular antigo e toque no botão de novo."
    ),
    connected="✅ Conectado! O WhatsApp do número {number} agora está na instância {instance}.",
    step_names={
        "replace": "Substituir o número",
        "instance": "Instância",
        "ddi": "Código do país",
        "phone": "Número",
        "phone_confirm": "Número",
        "banned": "Número banido",
        "appeal": "Recurso",
        "method": "Como receber o código",
        "captcha": "Captcha",
        "code": "Código",
        "device": "Transferência de aparelho",
        "pin": "Confirmação em duas etapas",
        "profile_name": "Nome do perfil",
        "profile_about": "Recado",
        "two_fa": "Confirmação em duas etapas",
        "two_fa_again": "Confirmação em duas etapas",
        "email": "E-mail de recuperação",
        "email_code": "E-mail de recuperação",
    },
    step_hints={
        "replace": "Toque em “Sim, substituir” ou volte e escolha outra instância.",
        "instance": "Toque numa instância, ou digite o nome dela.",
        "ddi": "Envie o código do país, por exemplo 55.",
        "phone": "Envie o número com DDD.",
        "phone_confirm": "Responda sim ou não.",
        "banned": "Toque em “Recorrer” (ou digite recorrer), ou em “Trocar número”.",
        "appeal": "Envie uma descrição curta para o recurso.",
        "method": "Toque num botão ou digite SMS, ligação ou pop-up.",
        "captcha": "Digite os caracteres da imagem.",
        "code": "Envie o código de 6 dígitos.",
        "device": "Aceite a transferência no celular antigo e toque em “Já aceitei”.",
        "pin": "Envie o PIN de 6 dígitos.",
        "profile_name": "Envie o nome do perfil ou toque em “Pular”.",
        "profile_about": "Envie o recado ou toque em “Pular”.",
        "two_fa": "Envie um PIN de 6 dígitos ou toque em “Pular”.",
        "two_fa_again": "Envie o mesmo PIN de 6 dígitos de novo.",
        "email": "Envie um e-mail ou toque em “Pular”.",
        "email_code": "Envie o código de 6 dígitos que chegou no e-mail.",
    },
    status_none="Nenhum registro em andamento. /register começa um.",
    status="📋 {step}\nInstância: {instance}\nNúmero: {number}\nTempos de espera: {waits}",
    status_waits_none="nenhuma",
    error_timeout="⚠ A Z-API não respondeu em {seconds} s.",
    error_network="⚠ Não consegui falar com a Z-API.",
    error_server="⚠ A Z-API está com problemas agora.",
    error_rate_limited="⚠ A Z-API está recebendo pedidos demais agora.",
    error_refused={
        "connected_number": (
            "⚠ A Z-API recusou o pedido: talvez a instância {instance} não esteja mais com este "
            "número. Toque em “Concluir”; o /setup confere o número antes de começar."
        ),
        "number": (
            "⚠ A Z-API recusou este número do jeito que foi informado. Confira ou tente outro "
            "número."
        ),
        "instance": (
            "⚠ A instância {instance} recusou o pedido: talvez ela já tenha um número conectado "
            "ou não seja uma instância mobile. Um admin consegue ver isso no painel da Z-API; "
            "enquanto isso, use /cancel e, se a equipe tiver outra instância, /register nela."
        ),
        "other": (
            "⚠ A Z-API recusou o pedido do jeito que foi feito, então repetir igual vai dar no "
            "mesmo. Volte um passo ou troque o número; se continuar, avise um admin."
        ),
    },
    error_auth="⚠ A Z-API recusou as credenciais deste bot na instância {instance}.",
    error_auth_alerted=(
        "Os admins já foram avisados e precisam acertar as configurações do bot. Seu progresso "
        "está salvo: é só continuar quando eles resolverem."
    ),
    error_auth_tell=(
        "Avise um admin: é preciso conferir o Client-Token e o id e o token desta instância "
        "nas configurações do bot. Seu progresso está salvo."
    ),
    alert_credentials=(
        "🔑 A Z-API recusou as credenciais do bot na instância {instance} ({endpoint}). Confira "
        "o ZAPI_CLIENT_TOKEN, o id e o token dessa instância no ZAPI_INSTANCES e a restrição "
        "de IP no painel da Z-API. Quem esbarrar nisso fica sabendo que vocês já foram "
        "avisados. (No máximo uma vez por hora por instância.)"
    ),
    stale_button_ended=(
        "Isso já terminou. /register começa um registro; /setup configura o último número que "
        "você conectou."
    ),
    error_bad_response="⚠ A Z-API mandou uma resposta que não consegui ler.",
    error_retry_hint="Seu progresso está salvo: é só tentar de novo.",
    button_used="Esse botão já foi usado. A última mensagem tem as opções de agora.",
    instance_lost=(
        "⚠ A instância {instance} não está mais reservada pro seu cadastro: ficou tanto tempo "
        "parada que outro cadastro pegou ela. Parei por aqui e não mandei mais nada pra Z-API. "
        "Mande /register pra começar de novo."
    ),
    restarted_code_request=(
        "🔄 Reiniciei enquanto pedia o código ao WhatsApp, então ele pode ter sido enviado. Se "
        "o código chegar, é só mandar aqui. Se não chegar, toque em “Não recebi”."
    ),
    restarted_during_call=(
        "🔄 Reiniciei enquanto esperava a Z-API, então não sei como terminou o seu último "
        "passo. Você está aqui:"
    ),
    code_requested_unsaved=(
        "📩 O código foi pedido por {method}, mas não consegui salvar esse passo. Mande o "
        "código aqui assim que ele chegar."
    ),
    step_unsaved=(
        "⚠ A Z-API respondeu, mas não consegui salvar o seu passo. Mande a resposta de novo "
        "daqui a pouco, por favor."
    ),
    ended_by_admin_denied=(
        "🚫 Um admin tirou o seu acesso a este bot, então o seu cadastro foi encerrado e a "
        "instância ficou livre."
    ),
    ended_by_admin_released=(
        "ℹ Um admin encerrou o seu cadastro e liberou a instância {instance}. "
        "Mande /register pra começar de novo."
    ),
    pin_not_deleted=(
        "⚠ Não consegui apagar a sua mensagem com o PIN. Apague você mesmo, por favor "
        "(segure a mensagem → Apagar)."
    ),
    seconds="{s} s",
    minutes="{m} min",
    minutes_seconds="{m} min {s} s",
    hours="{h} h",
    hours_minutes="{h} h {m} min",
    admin_only="Só admins podem fazer isso.",
    allow_usage="Uso: /allow ID_DO_USUARIO (um número; a mensagem do desconhecido mostra).",
    allowed="✅ {user_id} agora pode usar o bot.",
    deny_usage="Uso: /deny ID_DO_USUARIO",
    denied="🚫 {user_id} não pode mais usar o bot.",
    deny_admin="{user_id} é admin (ADMIN_USER_IDS) e não pode ser bloqueado aqui.",
    members_none="Nenhum membro ainda. Adicione com /allow ID_DO_USUARIO.",
    admin_error="⚠ Esse comando falhou do meu lado (o erro está no log do bot). Tente de novo.",
    denied_flow_ended=(
        "🚫 {user_id} não pode mais usar o bot. O registro que estava em andamento foi "
        "encerrado ({details}) e a pessoa foi avisada."
    ),
    admin_flow_details="passo: {step}; a instância {instance} está livre de novo",
    admin_flow_details_no_instance="passo: {step}; nenhuma instância escolhida ainda",
    release_usage="Uso: /release INSTÂNCIA (uma destas: {instances}).",
    release_unknown="Não existe instância chamada {instance}. As instâncias são: {instances}.",
    release_free="A instância {instance} já está livre: nenhum registro está com ela.",
    released=(
        "🔓 A instância {instance} está livre de novo. Quem estava com ela era {user_id} "
        "(passo: {step}); o registro foi encerrado e a pessoa foi avisada."
    ),
    admin_alert="⚠ Erro inesperado no bot: {error}",
    setup=PORTUGUESE_SETUP,
    admin=PORTUGUESE_ADMIN,
    access=PORTUGUESE_ACCESS,
    history=PORTUGUESE_HISTORY,
    sandbox=PORTUGUESE_SANDBOX,
)
