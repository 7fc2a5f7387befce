"""Portuguese (Brazil) texts of the set-up of a connected number."""

from bot.conversation.texts.catalog import SetupTexts

PORTUGUESE_SETUP = SetupTexts(
    command_setup="Configurar o último número conectado: perfil, PIN, e-mail",
    connected_setup_offer=(
        "Se quiser, agora dá para configurar o nome e o recado do perfil, um PIN da "
        "confirmação em duas etapas e um e-mail de recuperação. A Z-API recomenda trocar nome "
        "e recado de um número que já foi usado antes. Dá para fazer depois também, com /setup."
    ),
    button_set_up="⚙ Configurar o número",
    button_skip="⏭ Pular",
    button_finish_setup="✔ Concluir",
    button_email_again="🔁 Reenviar o código",
    setup_indicator="Configuração {n}/{total} · {name}",
    ask_profile_name="Qual nome as pessoas vão ver no {number}? Até 25 caracteres.",
    profile_name_invalid="O nome do perfil é uma linha só, de 1 a 25 caracteres.",
    ask_profile_about="E o recado do perfil? Até 139 caracteres.",
    profile_about_invalid="O recado é uma linha só, de 1 a 139 caracteres.",
    profile_refused="O WhatsApp não aceitou. Envie outro ou toque em “Pular”.",
    ask_two_fa=(
        "🔐 Escolha um PIN de 6 dígitos para a confirmação em duas etapas do {number}. O "
        "WhatsApp pede esse PIN sempre que o número for registrado de novo. Eu apago a sua "
        "mensagem na hora e não guardo o PIN em lugar nenhum."
    ),
    two_fa_unknown=(
        "Não consegui ver se o número já tem PIN: se tiver, o que você enviar aqui substitui."
    ),
    two_fa_replaces="Esse número já tem PIN: o que você enviar aqui substitui o atual.",
    ask_two_fa_again="Envie os mesmos 6 dígitos mais uma vez, só para confirmar.",
    two_fa_invalid="O PIN tem 6 dígitos, como 482913.",
    two_fa_mismatch="Os dois PINs ficaram diferentes. Envie o novo PIN novamente.",
    two_fa_start_over=(
        "Eu reiniciei no meio do caminho e não guardo PIN nenhum, então envie o novo PIN novamente."
    ),
    two_fa_refused="O WhatsApp não aceitou esse PIN. Envie outro ou toque em “Pular”.",
    two_fa_already="🔐 O {number} já tem PIN da confirmação em duas etapas: deixei como estava.",
    ask_email=(
        "📧 Por último, um e-mail para a conta. Se um dia o PIN for esquecido, o WhatsApp manda "
        "o link para redefinir nesse endereço."
    ),
    email_invalid="Isso não parece um e-mail (como ana@exemplo.com.br).",
    email_refused=(
        "O WhatsApp não aceitou esse endereço. Confira e envie de novo, ou toque em “Pular”."
    ),
    ask_email_code="O WhatsApp mandou um código para {email}. Envie aqui (6 dígitos).",
    email_code_invalid="Envie o código de 6 dígitos que chegou no e-mail.",
    email_code_wrong=(
        "Esse código não foi aceito. Confira o e-mail mais recente ou toque em “Reenviar o código”."
    ),
    email_code_resent="📧 Pedi ao WhatsApp um código novo para {email}.",
    setup_summary="⚙ Configuração do {number} na instância {instance}:\n{parts}",
    setup_part_names={
        "name": "Nome do perfil",
        "about": "Recado",
        "pin": "Confirmação em duas etapas",
        "email": "E-mail de recuperação",
    },
    setup_part_states={
        "set": "✅ configurado",
        "skipped": "⏭ pulado",
        "already": "✅ já tinha",
        "unverified": "⚠ informado, mas o código não foi confirmado",
        "": "— não chegou nessa parte",
    },
    setup_again="Quando quiser, /setup faz tudo de novo.",
    setup_nothing="Você ainda não tem número conectado para configurar. /register conecta um.",
    setup_during_registration=(
        "Tem um registro em andamento: termine (ou use /cancel) e depois envie /setup."
    ),
    setup_not_connected=(
        "O {number} não está mais conectado na instância {instance}, então não há o que "
        "configurar. /register conecta ele de novo."
    ),
    setup_instance_gone=(
        "A instância {instance}, onde o {number} foi conectado, não está mais nas configurações "
        "do bot."
    ),
    setup_busy=(
        "A instância {instance} está ocupada com outra pessoa agora. Tente /setup de novo daqui "
        "a alguns minutos."
    ),
    setup_check_failed="Tente /setup de novo daqui a pouco.",
    setup_idle_timeout=(
        "⌛ Sem resposta por {duration}, então fechei a configuração. O {number} continua "
        "conectado; /setup retoma quando você quiser."
    ),
    send_again_hint="Envie o novo PIN novamente.",
    setup_button_outdated=(
        "Esse botão era de um número conectado antes do último. O /setup configura o último, "
        "{number}."
    ),
    two_fa_maybe_set=(
        "Pode ser que o PIN tenha sido definido, mas eu não guardo PIN: envie um novo duas "
        "vezes (ele substitui o que tiver ficado) ou toque em “Pular”."
    ),
    setup_interrupted=(
        "ℹ Sua configuração foi encerrada: um admin liberou a instância {instance} ou outro "
        "registro passou a usá-la. Se o {number} continuar lá, o /setup retoma a configuração."
    ),
)
