//! The word lists behind sentiment and urgency. Weights: about ±1 for a plain cue, ±2 for a
//! strong one. Chinese entries come in both scripts where they differ.

#[rustfmt::skip]
pub const NEGATIONS: &[&str] = &[
    "not", "no", "never", "don't", "dont", "doesn't", "didn't", "isn't", "wasn't", "aren't", "hardly",
    "without", "nothing", "cannot", "can't", "won't",
];
pub const CJK_NEGATIONS: &[char] = &['不', '没', '沒', '未', '别', '別', '无', '無'];
#[rustfmt::skip]
pub const INTENSIFIERS: &[&str] = &[
    "very", "really", "so", "extremely", "absolutely", "totally", "completely", "super", "incredibly",
    "truly", "most",
];
pub const CJK_INTENSIFIERS: &[&str] =
    &["很", "非常", "太", "超", "特别", "特別", "真", "好", "极", "極", "十分"];

#[rustfmt::skip]
pub const POLARITY: &[(&str, f32)] = &[
    // English, positive.
    ("thank you", 1.2), ("thanks", 1.0), ("thx", 0.8), ("appreciate", 1.2), ("appreciated", 1.2),
    ("great", 1.0), ("excellent", 1.5), ("amazing", 1.5), ("awesome", 1.5), ("fantastic", 1.5),
    ("wonderful", 1.5), ("perfect", 1.3), ("love", 1.3), ("loved", 1.3), ("happy", 1.0), ("glad", 1.0),
    ("pleased", 1.0), ("satisfied", 1.0), ("helpful", 1.0), ("good", 0.7), ("nice", 0.8), ("brilliant", 1.5),
    ("impressed", 1.2), ("smooth", 0.8), ("quick", 0.5), ("fast", 0.5), ("easy", 0.6), ("best", 1.0),
    ("solved", 0.8), ("resolved", 0.8), ("works fine", 1.0), ("works great", 1.5), ("well done", 1.3),
    ("kudos", 1.3), ("lifesaver", 1.5), ("not bad", 0.8), ("not bad at all", 1.2), ("excited", 1.2),
    ("delighted", 1.5), ("recommend", 1.0), ("friendly", 1.0), ("enjoy", 1.0), ("enjoying", 1.0),
    // English, negative.
    ("angry", -1.5), ("furious", -2.0), ("annoyed", -1.2), ("annoying", -1.2), ("frustrated", -1.5),
    ("frustrating", -1.5), ("upset", -1.2), ("disappointed", -1.5), ("disappointing", -1.5),
    ("terrible", -2.0), ("horrible", -2.0), ("awful", -2.0), ("worst", -2.0), ("bad", -1.0), ("poor", -1.0),
    ("useless", -1.8), ("ridiculous", -1.8), ("unacceptable", -2.0), ("pathetic", -2.0),
    ("disgusting", -2.0), ("incompetent", -2.0), ("rude", -1.5), ("hate", -1.8), ("sucks", -1.8),
    ("scam", -2.0), ("fraud", -1.5), ("waste", -1.3), ("fed up", -1.8), ("sick of", -1.8),
    ("tired of", -1.5), ("never again", -1.8), ("complain", -1.0), ("complaint", -1.0), ("joke", -1.0),
    ("nightmare", -2.0), ("mess", -1.2), ("broken", -0.8), ("damaged", -0.8), ("crushed", -0.8),
    ("wrong", -0.6), ("still waiting", -1.3), ("still not", -1.0), ("no one", -0.8), ("nobody", -0.8),
    ("again", -0.3), ("worried", -1.0), ("concerned", -0.8), ("confused", -0.5), ("unhappy", -1.5),
    ("not happy", -1.5), ("thanks for nothing", -2.5), ("yeah right", -1.5), ("just great", -1.8),
    ("great, another", -2.5), ("oh great", -1.5), ("wtf", -2.0), ("seriously", -0.8), ("ignored", -1.3),
    ("ignoring", -1.3), ("lied", -1.8), ("misleading", -1.5), ("overcharged", -1.3), ("stuck", -0.8),
    ("fail", -0.8), ("failed", -0.8), ("keeps crashing", -1.2), ("doesn't work", -1.0),
    ("not working", -1.0), ("stopped working", -1.0), ("hopeless", -1.8), ("slow", -0.6), ("late", -0.5),
    ("delay", -0.6), ("delayed", -0.6), ("lost", -0.6), ("missing", -0.5), ("cancel everything", -1.0),
    ("leave", -0.3), ("switching to", -1.0), ("lawyer", -1.0),
    // Reports of a problem: the customer is not neutral about a fault.
    ("can't", -0.8), ("cannot", -0.8), ("won't", -0.6), ("isn't here", -0.8), ("hasn't arrived", -0.9),
    ("hasnt arrived", -0.9), ("never arrived", -0.9), ("hacked", -1.2), ("stolen", -1.2),
    ("without my permission", -1.2), ("charged twice", -1.0), ("declined", -0.8), ("no internet", -0.9),
    ("no signal", -0.8), ("is down", -0.9), ("are down", -0.9), ("went up", -0.6), ("leaks", -0.8),
    ("smoking", -0.8), ("sparked", -0.9), ("swelled", -0.9), ("gas smell", -1.0),
    ("logged into my account", -1.0), ("someone used my card", -1.2), ("don't understand", -0.7),
    ("stop sending", -0.8), ("slower", -0.7), ("cancelled my order", -0.6), ("nobody called", -1.0),
    ("no data", -0.6), ("five different people", -0.8), ("losing money", -1.2), ("personal data", -0.6),
    ("isn't working", -1.0), ("good morning", 0.0), ("good afternoon", 0.0), ("good evening", 0.0),
    ("pleased with", 1.2), ("clear", 0.6), ("loving", 1.3), ("impressive", 1.2), ("fine but", -0.5),
    ("took forever", -1.0), ("盗刷", -1.2), ("盜刷", -1.2), ("被黑", -1.2), ("被盗", -1.2), ("被盜", -1.2),
    ("冒烟", -1.0), ("冒煙", -1.0), ("瘫痪", -1.2), ("癱瘓", -1.2), ("鼓包", -1.0), ("膨胀", -1.0), ("膨脹", -1.0),
    ("裂", -0.6), ("闪退", -1.0), ("閃退", -1.0), ("用不了", -1.0), ("不能用", -1.0), ("不了", -0.6), ("没信号", -0.9),
    ("扣款", -0.4), ("重复", -0.5), ("重複", -0.5), ("断了", -0.9), ("斷了", -0.9), ("没办法", -0.8), ("沒辦法", -0.8),
    ("陌生人", -0.8), ("损失", -1.0), ("損失", -1.0), ("挂了", -1.0), ("掛了", -1.0), ("到现在都没有", -1.0),
    ("到現在都沒有", -1.0), ("多了", -0.6), ("律师", -1.0), ("律師", -1.0), ("麻烦", 0.0), ("麻煩", 0.0), ("怎么用得这么快", -0.8),
    ("不明费用", -0.8), ("不明費用", -0.8), ("危险", -1.0), ("危險", -1.0),
    // Chinese, positive (Simplified / Traditional).
    ("谢谢", 1.2), ("謝謝", 1.2), ("感谢", 1.3), ("感謝", 1.3), ("多谢", 1.2), ("多謝", 1.2), ("满意", 1.2), ("滿意", 1.2),
    ("好评", 1.3), ("好評", 1.3), ("很好", 1.0), ("太好了", 1.5), ("不错", 1.0), ("不錯", 1.0), ("棒", 1.2), ("赞", 1.2),
    ("讚", 1.2), ("开心", 1.2), ("開心", 1.2), ("高兴", 1.2), ("高興", 1.2), ("喜欢", 1.2), ("喜歡", 1.2), ("专业", 0.8),
    ("專業", 0.8), ("及时", 0.8), ("及時", 0.8), ("给力", 1.3), ("給力", 1.3), ("方便", 0.6), ("完美", 1.5), ("推荐", 1.0),
    ("推薦", 1.0), ("解决了", 0.8), ("解決了", 0.8), ("辛苦了", 1.0), ("耐心", 0.8), ("贴心", 1.2), ("貼心", 1.2), ("快", 0.3),
    // Chinese, negative.
    ("失望", -1.5), ("生气", -1.5), ("生氣", -1.5), ("愤怒", -2.0), ("憤怒", -2.0), ("气死", -2.0), ("氣死", -2.0),
    ("垃圾", -2.0), ("差劲", -1.8), ("差勁", -1.8), ("太差", -1.8), ("很差", -1.5), ("糟糕", -1.8), ("烂", -1.5),
    ("爛", -1.5), ("骗子", -2.0), ("騙子", -2.0), ("骗人", -2.0), ("騙人", -2.0), ("投诉", -1.2), ("投訴", -1.2),
    ("无语", -1.5), ("無語", -1.5), ("恶心", -1.8), ("噁心", -1.8), ("不能接受", -2.0), ("无法接受", -2.0), ("無法接受", -2.0),
    ("坑", -1.2), ("离谱", -1.8), ("離譜", -1.8), ("过分", -1.5), ("過分", -1.5), ("受够", -2.0), ("受夠", -2.0),
    ("烦", -1.2), ("煩", -1.2), ("着急", -1.0), ("著急", -1.0), ("担心", -1.0), ("擔心", -1.0), ("还没", -0.8),
    ("還沒", -0.8), ("一直没", -1.2), ("一直沒", -1.2), ("没人", -1.0), ("沒人", -1.0), ("不理", -1.3), ("慢", -0.6),
    ("坏了", -0.8), ("壞了", -0.8), ("破损", -0.8), ("破損", -0.8), ("错", -0.6), ("錯", -0.6), ("退钱", -1.0),
    ("退錢", -1.0), ("什么破", -1.8), ("什麼爛", -1.8), ("搞什么", -1.5), ("搞什麼", -1.5),
];

#[rustfmt::skip]
pub const CRITICAL: &[&str] = &[
    "hacked", "fraud", "fraudulent", "unauthorized", "unauthorised", "stolen", "identity theft", "scammed",
    "someone else logged", "someone logged", "emergency", "danger", "dangerous", "fire", "smoke", "smoking",
    "sparks", "sparking", "overheating", "exploded", "burn", "burned", "injured", "injury", "electric shock",
    "lawyer", "legal action", "sue you", "sue", "police", "data breach", "leaked", "entire team",
    "whole company", "all our customers", "business is down", "shop is offline", "store is offline",
    "site is down", "production is down", "production down", "completely down", "losing money",
    "life support", "medical",
    // Chinese.
    "盗刷", "盜刷", "被盗", "被盜", "被黑", "盗号", "盜號", "诈骗", "詐騙", "紧急", "緊急", "冒烟", "冒煙", "着火", "著火", "起火", "爆炸",
    "触电", "觸電", "受伤", "受傷", "报警", "報警", "律师", "律師", "起诉", "起訴", "瘫痪", "癱瘓", "无法营业", "無法營業", "泄露", "洩露", "危险",
    "危險", "陌生人登录", "陌生人登入", "without my permission", "personal data", "gas smell", "smell of gas", "sparked",
    "swelled", "swollen", "someone is logged", "logged into my account", "fraudulent", "鼓包", "膨胀", "膨脹",
    "损失很大", "損失很大", "网站挂了", "網站掛了", "提告",
];

#[rustfmt::skip]
pub const HIGH: &[&str] = &[
    "urgent", "urgently", "asap", "immediately", "right now", "right away", "today", "tonight",
    "this morning", "this afternoon", "tomorrow morning", "deadline", "as soon as possible", "locked out",
    "can't access", "cannot access", "can't log in", "cannot log in", "can't login", "blocked", "declined",
    "payment failed", "charged twice", "double charged", "third time", "second time", "3rd time", "still no",
    "no one has", "nobody has", "no response", "no reply", "for days", "for a week", "for weeks",
    "been waiting", "without internet", "no internet", "no signal", "cut off", "suspended", "escalate",
    "manager", "supervisor", "final warning", "last chance", "need it now", "hurry", "critical",
    // Chinese.
    "急", "尽快", "盡快", "马上", "馬上", "立刻", "立即", "今天", "今晚", "明天早上", "截止", "第三次", "第二次", "一直没有", "一直沒有", "登录不了",
    "登入不了", "无法登录", "無法登入", "被锁", "被鎖", "扣款失败", "扣款失敗", "重复扣款", "重複扣款", "扣了两次", "扣了兩次", "没有网", "沒有網", "断网",
    "斷網", "没信号", "沒訊號", "用不了", "几天了", "幾天了", "一个星期", "一個星期", "主管", "经理", "經理", "tomorrow", "in an hour",
    "in two hours", "in three hours", "third day", "still waiting", "a month", "months", "nobody called",
    "no one called", "never called", "明天", "一整天", "三天", "不能用", "说好", "說好", "没人理", "沒人理", "受够", "受夠", "闪退",
    "閃退",
];

/// Said outright, these beat any time pressure found elsewhere in the text.
pub const NOT_URGENT: &[&str] =
    &["no rush", "no hurry", "not urgent", "不急", "不着急", "不著急", "whenever"];

#[rustfmt::skip]
pub const LOW: &[&str] = &[
    "no rush", "no hurry", "whenever", "when you have time", "when you get a chance", "just wondering",
    "just curious", "curious", "suggestion", "suggest", "feedback", "idea", "would be nice",
    "feature request", "just wanted to say", "just letting you know", "fyi", "no big deal", "not urgent",
    "in the future", "someday", "general question",
    // Chinese.
    "不急", "有空", "方便的时候", "方便的時候", "建议", "建議", "顺便", "順便", "好奇", "反馈", "回饋", "意见", "意見", "不着急", "不著急",
    "opening hours", "store open", "gift card", "warranty", "discount", "terms and conditions",
    "be available", "hi there", "not a big deal", "nothing special", "周末", "週末",
];
