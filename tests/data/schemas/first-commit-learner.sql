-- A database made by a360739 2026-11-29 Core: packaging, lesson format and parser, store, engine, SMS channel, Twilio and console adapters, worker, CLI, en/fr catalogs
-- (tests/tools/schema_history.py)
BEGIN TRANSACTION;
CREATE TABLE "_sqlite_migrations" (
   "id" INTEGER PRIMARY KEY,
   "migration_set" TEXT,
   "name" TEXT,
   "applied_at" TEXT
);
INSERT INTO "_sqlite_migrations" VALUES(1,'learnline','m001_initial','2026-12-06 18:34:03.638066+00:00');
CREATE TABLE answers (
            id INTEGER PRIMARY KEY,
            phone TEXT NOT NULL REFERENCES learners(phone) ON DELETE CASCADE,
            course_id TEXT NOT NULL,
            lesson_id TEXT NOT NULL,
            question INTEGER NOT NULL,
            choice INTEGER NOT NULL,
            correct INTEGER NOT NULL,
            first_try INTEGER NOT NULL,
            at REAL NOT NULL
        );
INSERT INTO "answers" VALUES(1,'+2348030000000','start-freelancing','find-your-skill',0,0,0,1,1.7965820436576957703e+09);
INSERT INTO "answers" VALUES(2,'+2348030000000','start-freelancing','find-your-skill',1,0,0,1,1.79658204365889143938e+09);
INSERT INTO "answers" VALUES(3,'+2348030000000','start-freelancing','find-your-skill',2,0,1,1,1.79658204366007733347e+09);
INSERT INTO "answers" VALUES(4,'+2348030000000','start-freelancing','find-your-skill',0,0,0,0,1.79658204366106581681e+09);
INSERT INTO "answers" VALUES(5,'+2348030000000','start-freelancing','find-your-skill',1,0,0,0,1.79658204366207695009e+09);
INSERT INTO "answers" VALUES(6,'+2348030000000','start-freelancing','first-clients',0,0,0,1,1.79658204366811370851e+09);
INSERT INTO "answers" VALUES(7,'+2348030000000','start-freelancing','first-clients',1,0,1,1,1.79658204366922640794e+09);
INSERT INTO "answers" VALUES(8,'+2348030000000','start-freelancing','first-clients',2,0,0,1,1.79658204367014408112e+09);
INSERT INTO "answers" VALUES(9,'+2348030000000','start-freelancing','first-clients',0,0,0,0,1.79658204367122149467e+09);
INSERT INTO "answers" VALUES(10,'+2348030000000','start-freelancing','first-clients',2,0,0,0,1.79658204367228341107e+09);
INSERT INTO "answers" VALUES(11,'+2348030000000','start-freelancing','set-your-price',0,0,1,1,1.79658204367837429048e+09);
INSERT INTO "answers" VALUES(12,'+2348030000000','start-freelancing','set-your-price',1,0,0,1,1.79658204367929196353e+09);
INSERT INTO "answers" VALUES(13,'+2348030000000','start-freelancing','set-your-price',2,0,0,1,1.7965820436803059578e+09);
INSERT INTO "answers" VALUES(14,'+2348030000000','start-freelancing','set-your-price',1,0,0,0,1.79658204368127441411e+09);
INSERT INTO "answers" VALUES(15,'+2348030000000','start-freelancing','set-your-price',2,0,0,0,1.79658204368217539782e+09);
CREATE TABLE courses (
            id TEXT PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,
            position INTEGER NOT NULL,
            meta TEXT NOT NULL,
            updated_at REAL NOT NULL
        );
INSERT INTO "courses" VALUES('start-freelancing','FREELANCE',0,'{"code": "FREELANCE", "default_locale": "en", "lesson_ids": ["find-your-skill", "first-clients", "set-your-price", "agree-the-job", "get-paid-safely", "keep-clients-and-money"], "locales": ["en", "fr"], "pass_mark": 70, "summaries": {"en": "Six short lessons to find paying clients, price your work, get paid safely and keep what you earn.", "fr": "Six courtes leçons pour trouver des clients, fixer vos prix, être payé sans risque et garder vos gains."}, "titles": {"en": "Start freelancing", "fr": "Se lancer en freelance"}}',1.79658204364005064969e+09);
CREATE TABLE enrollments (
            phone TEXT NOT NULL REFERENCES learners(phone) ON DELETE CASCADE,
            course_id TEXT NOT NULL REFERENCES courses(id) ON DELETE CASCADE,
            position INTEGER NOT NULL DEFAULT 0,
            card INTEGER NOT NULL DEFAULT -1,
            quiz TEXT,
            started_at REAL NOT NULL,
            completed_at REAL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (phone, course_id)
        );
INSERT INTO "enrollments" VALUES('+2348030000000','start-freelancing',3,1,NULL,1.79658204365146923061e+09,NULL,1.79658204368379235266e+09);
CREATE TABLE inbound (
            id INTEGER PRIMARY KEY,
            carrier_id TEXT NOT NULL,
            carrier_message_id TEXT NOT NULL,
            phone TEXT NOT NULL,
            recipient TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL,
            received_at REAL NOT NULL,
            status TEXT NOT NULL DEFAULT 'received'
                CHECK (status IN ('received', 'processed', 'failed')),
            processed_at REAL,
            error TEXT,
            UNIQUE (carrier_id, carrier_message_id)
        );
INSERT INTO "inbound" VALUES(1,'twilio','SMffffffffffffffffffffffff00000000','+2348030000000','+15005550006','START',1.79658204364194083214e+09,'processed',1.79658204365227055542e+09,NULL);
INSERT INTO "inbound" VALUES(2,'twilio','SMffffffffffffffffffffffff00000001','+2348030000000','+15005550006','NEXT',1.79658204365276193614e+09,'processed',1.79658204365357804296e+09,NULL);
INSERT INTO "inbound" VALUES(3,'twilio','SMffffffffffffffffffffffff00000002','+2348030000000','+15005550006','NEXT',1.79658204365394926068e+09,'processed',1.79658204365457677834e+09,NULL);
INSERT INTO "inbound" VALUES(4,'twilio','SMffffffffffffffffffffffff00000003','+2348030000000','+15005550006','NEXT',1.79658204365482902526e+09,'processed',1.7965820436554605961e+09,NULL);
INSERT INTO "inbound" VALUES(5,'twilio','SMffffffffffffffffffffffff00000004','+2348030000000','+15005550006','NEXT',1.79658204365570402143e+09,'processed',1.79658204365639114375e+09,NULL);
INSERT INTO "inbound" VALUES(6,'twilio','SMffffffffffffffffffffffff00000005','+2348030000000','+15005550006','NEXT',1.79658204365663862235e+09,'processed',1.79658204365720701217e+09,NULL);
INSERT INTO "inbound" VALUES(7,'twilio','SMffffffffffffffffffffffff00000006','+2348030000000','+15005550006','A',1796582043.65747,'processed',1.7965820436583604812e+09,NULL);
INSERT INTO "inbound" VALUES(8,'twilio','SMffffffffffffffffffffffff00000007','+2348030000000','+15005550006','A',1.79658204365863537785e+09,'processed',1.79658204365950393676e+09,NULL);
INSERT INTO "inbound" VALUES(9,'twilio','SMffffffffffffffffffffffff00000008','+2348030000000','+15005550006','A',1.79658204365985751157e+09,'processed',1.79658204366057705882e+09,NULL);
INSERT INTO "inbound" VALUES(10,'twilio','SMffffffffffffffffffffffff00000009','+2348030000000','+15005550006','A',1.7965820436608624459e+09,'processed',1.79658204366161417964e+09,NULL);
INSERT INTO "inbound" VALUES(11,'twilio','SMffffffffffffffffffffffff0000000a','+2348030000000','+15005550006','A',1796582043.66188,'processed',1.79658204366258454328e+09,NULL);
INSERT INTO "inbound" VALUES(12,'twilio','SMffffffffffffffffffffffff0000000b','+2348030000000','+15005550006','NEXT',1.79658204366284823417e+09,'processed',1.79658204366353893284e+09,NULL);
INSERT INTO "inbound" VALUES(13,'twilio','SMffffffffffffffffffffffff0000000c','+2348030000000','+15005550006','NEXT',1.79658204366386604314e+09,'processed',1.79658204366444325447e+09,NULL);
INSERT INTO "inbound" VALUES(14,'twilio','SMffffffffffffffffffffffff0000000d','+2348030000000','+15005550006','NEXT',1.79658204366467833521e+09,'processed',1.79658204366524052626e+09,NULL);
INSERT INTO "inbound" VALUES(15,'twilio','SMffffffffffffffffffffffff0000000e','+2348030000000','+15005550006','NEXT',1.79658204366547465322e+09,'processed',1.7965820436660335064e+09,NULL);
INSERT INTO "inbound" VALUES(16,'twilio','SMffffffffffffffffffffffff0000000f','+2348030000000','+15005550006','NEXT',1.79658204366626071931e+09,'processed',1.79658204366682386398e+09,NULL);
INSERT INTO "inbound" VALUES(17,'twilio','SMffffffffffffffffffffffff00000010','+2348030000000','+15005550006','NEXT',1.79658204366706490519e+09,'processed',1.79658204366759276389e+09,NULL);
INSERT INTO "inbound" VALUES(18,'twilio','SMffffffffffffffffffffffff00000011','+2348030000000','+15005550006','A',1.79658204366790580754e+09,'processed',1.79658204366873955728e+09,NULL);
INSERT INTO "inbound" VALUES(19,'twilio','SMffffffffffffffffffffffff00000012','+2348030000000','+15005550006','A',1.79658204366902375225e+09,'processed',1.79658204366967034345e+09,NULL);
INSERT INTO "inbound" VALUES(20,'twilio','SMffffffffffffffffffffffff00000013','+2348030000000','+15005550006','A',1.79658204366993308064e+09,'processed',1.79658204367076110839e+09,NULL);
INSERT INTO "inbound" VALUES(21,'twilio','SMffffffffffffffffffffffff00000014','+2348030000000','+15005550006','A',1.79658204367102909086e+09,'processed',1.79658204367180061337e+09,NULL);
INSERT INTO "inbound" VALUES(22,'twilio','SMffffffffffffffffffffffff00000015','+2348030000000','+15005550006','A',1.79658204367207980159e+09,'processed',1.79658204367272663118e+09,NULL);
INSERT INTO "inbound" VALUES(23,'twilio','SMffffffffffffffffffffffff00000016','+2348030000000','+15005550006','NEXT',1.79658204367299771308e+09,'processed',1796582043.6738,NULL);
INSERT INTO "inbound" VALUES(24,'twilio','SMffffffffffffffffffffffff00000017','+2348030000000','+15005550006','NEXT',1.79658204367410421369e+09,'processed',1.79658204367469334604e+09,NULL);
INSERT INTO "inbound" VALUES(25,'twilio','SMffffffffffffffffffffffff00000018','+2348030000000','+15005550006','NEXT',1.79658204367494726176e+09,'processed',1.79658204367550492289e+09,NULL);
INSERT INTO "inbound" VALUES(26,'twilio','SMffffffffffffffffffffffff00000019','+2348030000000','+15005550006','NEXT',1.79658204367581629751e+09,'processed',1.79658204367636704446e+09,NULL);
INSERT INTO "inbound" VALUES(27,'twilio','SMffffffffffffffffffffffff0000001a','+2348030000000','+15005550006','NEXT',1.79658204367661285399e+09,'processed',1.79658204367717242236e+09,NULL);
INSERT INTO "inbound" VALUES(28,'twilio','SMffffffffffffffffffffffff0000001b','+2348030000000','+15005550006','NEXT',1.79658204367742800706e+09,'processed',1.79658204367789292336e+09,NULL);
INSERT INTO "inbound" VALUES(29,'twilio','SMffffffffffffffffffffffff0000001c','+2348030000000','+15005550006','A',1.79658204367818045621e+09,'processed',1.79658204367882728576e+09,NULL);
INSERT INTO "inbound" VALUES(30,'twilio','SMffffffffffffffffffffffff0000001d','+2348030000000','+15005550006','A',1.79658204367909860605e+09,'processed',1796582043.67983,NULL);
INSERT INTO "inbound" VALUES(31,'twilio','SMffffffffffffffffffffffff0000001e','+2348030000000','+15005550006','A',1.79658204368010830879e+09,'processed',1796582043.68082,NULL);
INSERT INTO "inbound" VALUES(32,'twilio','SMffffffffffffffffffffffff0000001f','+2348030000000','+15005550006','A',1.79658204368108415606e+09,'processed',1.79658204368171930311e+09,NULL);
INSERT INTO "inbound" VALUES(33,'twilio','SMffffffffffffffffffffffff00000020','+2348030000000','+15005550006','A',1.79658204368198895451e+09,'processed',1.79658204368257665636e+09,NULL);
INSERT INTO "inbound" VALUES(34,'twilio','SMffffffffffffffffffffffff00000021','+2348030000000','+15005550006','NEXT',1.79658204368282103536e+09,'processed',1.79658204368346166614e+09,NULL);
INSERT INTO "inbound" VALUES(35,'twilio','SMffffffffffffffffffffffff00000022','+2348030000000','+15005550006','NEXT',1.79658204368353056909e+09,'processed',1.79658204368417429921e+09,NULL);
CREATE TABLE learners (
            phone TEXT PRIMARY KEY,
            locale TEXT NOT NULL,
            carrier_id TEXT NOT NULL,
            stopped INTEGER NOT NULL DEFAULT 0,
            current_course TEXT REFERENCES courses(id) ON DELETE SET NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
INSERT INTO "learners" VALUES('+2348030000000','en','twilio',0,'start-freelancing',1.79658204364737582206e+09,1.79658204365138697618e+09);
CREATE TABLE lesson_results (
            phone TEXT NOT NULL REFERENCES learners(phone) ON DELETE CASCADE,
            course_id TEXT NOT NULL,
            lesson_id TEXT NOT NULL,
            score INTEGER NOT NULL,
            total INTEGER NOT NULL,
            completed_at REAL NOT NULL,
            PRIMARY KEY (phone, course_id, lesson_id)
        );
INSERT INTO "lesson_results" VALUES('+2348030000000','start-freelancing','find-your-skill',1,3,1.79658204366208815571e+09);
INSERT INTO "lesson_results" VALUES('+2348030000000','start-freelancing','first-clients',1,3,1.7965820436722941399e+09);
INSERT INTO "lesson_results" VALUES('+2348030000000','start-freelancing','set-your-price',1,3,1.79658204368218541143e+09);
CREATE TABLE lessons (
            course_id TEXT NOT NULL REFERENCES courses(id) ON DELETE CASCADE,
            lesson_id TEXT NOT NULL,
            locale TEXT NOT NULL,
            position INTEGER NOT NULL,
            body TEXT NOT NULL,
            hash TEXT NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (course_id, lesson_id, locale)
        );
INSERT INTO "lessons" VALUES('start-freelancing','find-your-skill','en',0,'{"cards": [{"text": "A good freelance skill is one people already pay for near you. Look around your street: who gets paid every week? Tailors, phone repairers, hairdressers, riders, people who type CVs. Start from what you see being bought."}, {"text": "List three things you can do well today, not one day. Then ask: who needs this, how often, and do they pay for it? Fixing phone screens is needed every day; painted portraits are needed far less often."}, {"text": "Test before you spend. Do one or two jobs for a neighbour or friend at a fair price and watch: did they come back, did they tell others? A skill that brings repeat work is worth building."}, {"text": "Not good enough yet? Learn by doing. Help an experienced tailor or repairer for a few weeks, watch free lessons on your phone, practise on old items. Clients want to see real work more than certificates."}, {"text": "Take a photo of every job you finish: a dress, a repaired phone, a logo, a braided style. Before and after pictures on your phone are your shop window when a new client asks, \"What can you do?\""}], "id": "find-your-skill", "locale": "en", "questions": [{"answer": 1, "explanation": "Start where money already changes hands. Demand you can see is safer than demand you hope for.", "options": ["One you plan to learn later", "One people near you pay weekly", "One nobody in your area offers"], "text": "Which skill is the best first bet for earning quickly?"}, {"answer": 2, "explanation": "Small real jobs show if people pay and come back, before you risk savings on tools or cards.", "options": ["Buy all the equipment first", "Print business cards", "Do a few small jobs for pay"], "text": "How can you test a skill before spending money on it?"}, {"answer": 0, "explanation": "Clients trust what they can see. Before and after photos on your phone prove your skill fast.", "options": ["Photos of jobs you finished", "A list of your certificates", "A promise that you are the best"], "text": "A new client asks to see your work. What helps most?"}], "title": "Find a skill people pay for"}','ce33f2cb567c6b76',1.79658204364005064969e+09);
INSERT INTO "lessons" VALUES('start-freelancing','first-clients','en',1,'{"cards": [{"text": "Your first clients are usually people who already know you: family, neighbours, church or mosque members, old classmates. Tell each one clearly what you do and your price, and ask them to tell one friend."}, {"text": "Your WhatsApp status is a free shop window. Post one photo of real work a day with a short line: what it is, the price, and how to order. Keep it regular; people buy from those they see often."}, {"text": "Go where your clients already are. A phone repairer can sit near a busy market, a hairdresser can visit offices on payday, a bookkeeper can visit shops at closing time. Have your number clearly written."}, {"text": "Local apps for rides, delivery or online tasks can bring steady work, but read the fees and rules first. Be wary of anyone who asks for money before you get any work: that is how most job scams start."}, {"text": "After each job, ask the happy client: \"Do you know anyone else who needs this?\" One satisfied client who sends you two friends is worth more than a hundred strangers who saw a poster."}], "id": "first-clients", "locale": "en", "questions": [{"answer": 1, "explanation": "Show real work, the price and how to buy. Quotes and repeated adverts do not tell people what you sell.", "options": ["A motivational quote every day", "Dress photo, price, how to order", "The same advert sent ten times"], "text": "Which WhatsApp status post works best for a tailor?"}, {"answer": 0, "explanation": "Real platforms earn from jobs you finish. Paying before any work is how most job scams start.", "options": ["Refuse and report it", "Pay, since jobs will follow", "Pay half now, half later"], "text": "An app asks for a fee to ''unlock'' jobs for you. What should you do?"}, {"answer": 2, "explanation": "Family, neighbours and friends already trust you. Tell them what you do and ask them to pass it on.", "options": ["Big companies online", "Strangers who see a poster", "People who already know you"], "text": "Who usually gives you your very first jobs?"}], "title": "Find your first clients"}','c296232b0539554a',1.79658204364005064969e+09);
INSERT INTO "lessons" VALUES('start-freelancing','set-your-price','en',2,'{"cards": [{"text": "A good price has three parts: cost, time and margin. Cost is what you spend on the job: thread, parts, fuel, data. Time is what your hours are worth. Margin is extra, so the business can grow and survive bad days."}, {"text": "Example: fixing a phone screen. The screen costs 6,000 naira, transport 1,000. It takes 2 hours and your time is worth 1,500 an hour: 3,000. Add a 20% margin on 10,000. Total: 12,000 naira."}, {"text": "Do not charge less just to win the job. Very low prices leave you working for nothing, and clients start to think your work is cheap. It is easier to give a small discount than to raise a price later."}, {"text": "Ask around what others charge for the same job. You do not have to be the cheapest. Say why you are worth it: faster, neater, you come to the client, or you give a one-week guarantee."}, {"text": "Always give your price before you start, never after. If you are not sure, check the work first, then quote. If the job grows halfway, stop and agree a new price before you do the extra work."}], "id": "set-your-price", "locale": "en", "questions": [{"answer": 0, "explanation": "Cost covers what you spend, time pays your hours, and margin lets the business grow and survive slow days.", "options": ["Cost, time, margin", "Cost, transport, discount", "Whatever the client offers"], "text": "What are the three parts of a good price?"}, {"answer": 1, "explanation": "Quote first. A price given after the work leads to arguments and unpaid jobs.", "options": ["After the work is done", "Before you start the job", "When the client wants to pay"], "text": "When should you tell the client your price?"}, {"answer": 2, "explanation": "2,500 only covers cost and time. 3,000 adds a 20% margin for slow days and new tools.", "options": ["2,000", "2,500", "3,000"], "text": "Materials cost 1,000 and your time is worth 1,500. Which price leaves a margin?"}], "title": "Set a fair price"}','4b43f3c1a684d229',1.79658204364005064969e+09);
INSERT INTO "lessons" VALUES('start-freelancing','agree-the-job','en',3,'{"cards": [{"text": "Most fights with clients start with a vague deal. Before you begin, agree four things: exactly what you will do, the price, the deposit, and the delivery date. Then write them in one message."}, {"text": "Be precise about the work. Not \"a logo\" but \"one logo, two colour options, two rounds of changes\". Not \"fix the phone\" but \"replace the screen, battery not included\". Extra work means an extra price."}, {"text": "Ask for a deposit before you buy materials or block your time, often 30 to 50 percent. A client who refuses any deposit on a big job is a risk. A deposit also shows the client is serious."}, {"text": "Send the deal by WhatsApp or SMS and ask the client to reply OK. Example: \"Two shirts, your fabric, 12,000 naira, 6,000 deposit today, ready Friday 5 pm. Please reply OK to confirm.\""}, {"text": "If the client changes the plan halfway, write the new deal the same way: what changes, the new price, the new date. Keep every message. If there is a dispute later, your messages are your proof."}], "id": "agree-the-job", "locale": "en", "questions": [{"answer": 1, "explanation": "A clear deal lists the work, price, deposit and date. Anything less invites arguments later.", "options": ["Only the final price", "Work, price, deposit, deadline", "The price and your name"], "text": "What should the written deal include?"}, {"answer": 2, "explanation": "A deposit pays for materials and shows the client is serious, so you lose less if they disappear.", "options": ["It replaces a written deal", "So you can skip the deadline", "It pays for materials up front"], "text": "Why ask for a deposit before starting?"}, {"answer": 0, "explanation": "Extra work needs an extra price. Write the change in a message before you start on it.", "options": ["Agree a new price and date first", "Do it free to keep them happy", "Stop and keep the deposit"], "text": "The client asks for extra work halfway. What do you do?"}], "title": "Agree the job clearly"}','3a2b92e3b7cef389',1.79658204364005064969e+09);
INSERT INTO "lessons" VALUES('start-freelancing','get-paid-safely','en',4,'{"cards": [{"text": "Mobile money such as M-Pesa or MTN MoMo is often the safest way to be paid: no cash to carry, and every payment leaves a record. Give clients your number and registered name so they can check before sending."}, {"text": "Scammers send fake payment SMS that look like real M-Pesa or MoMo messages. Never trust a message alone. Check your balance in the official menu or app before you hand over work or goods."}, {"text": "A common trick: \"I sent too much by mistake, please send back the difference.\" Often nothing was sent, or the payment will be reversed. Check your balance. If it is a real mistake, let the provider reverse it."}, {"text": "A real client never asks you to pay to get work. A fee for registration, uniform, training or \"unlocking\" a job before any pay is a scam sign. Clients pay you, not the other way round."}, {"text": "Hand over finished work when the balance is paid, or agree steps: deposit at the start, the rest on delivery. If you take cash, count it in front of the client. Never share your PIN or a code sent to your phone."}], "id": "get-paid-safely", "locale": "en", "questions": [{"answer": 1, "explanation": "SMS can be faked. Only your balance in the official mobile money menu or app proves the money arrived.", "options": ["Hand over the work", "Check your balance yourself", "Ask them to forward the SMS"], "text": "A client shows you an SMS saying they paid. What do you do first?"}, {"answer": 2, "explanation": "A common trick: often nothing was sent. Check your balance, and let the provider reverse real mistakes.", "options": ["Send the 5,000 back now", "Send back half to be fair", "Check balance, call provider"], "text": "\"I sent too much, please send back 5,000.\" What is safest?"}, {"answer": 0, "explanation": "Real clients pay you. A fee before any work, for registration, uniform or training, is a classic scam sign.", "options": ["A scam", "A normal hiring step", "A sign they are serious"], "text": "A \"company\" asks 3,000 to register you for a job. This is most likely:"}, {"answer": 1, "explanation": "Codes and PINs are for you alone. Real providers never ask for them. Sharing one lets thieves empty your account.", "options": ["Read it out quickly", "Never share it", "Share it if they sound official"], "text": "A caller asks for the code just sent to your phone. You:"}], "title": "Get paid safely"}','ca58a178112db94d',1.79658204364005064969e+09);
INSERT INTO "lessons" VALUES('start-freelancing','keep-clients-and-money','en',5,'{"cards": [{"text": "Deliver on time, or warn the client before the deadline, not after. A short message like \"Your dress will be ready Saturday, not Friday, sorry\" keeps trust. Silence loses clients."}, {"text": "After delivery, ask: \"Are you happy with it?\" Fix small problems quickly. Then ask for a short voice note or message you can share, or a review on the platform. Praise from real clients sells better than adverts."}, {"text": "Keep a list of your clients'' numbers. Message them before busy times: school opening, festive season, month end. \"Need uniforms adjusted before school? I have space this week.\" Old clients are the easiest sales."}, {"text": "Write every job in a notebook or phone note: date, client, work, price, paid or not. Write what you spend too. Each month, add it up. You will see what really earns money and who still owes you."}, {"text": "Keep business money apart from house money, for example in a separate mobile money wallet. Pay yourself a fixed amount each week. If you mix them, next week''s money for materials quietly disappears."}, {"text": "Freelance income goes up and down. In good weeks, put a fixed part aside, say 10 percent, in savings you do not touch: a savings wallet, a bank or a trusted group like a chama or susu. It carries you through lean months."}], "id": "keep-clients-and-money", "locale": "en", "questions": [{"answer": 0, "explanation": "Warning early keeps trust. A client who hears nothing assumes the worst and does not come back.", "options": ["Before the deadline", "Only if they ask", "Never, just finish the job"], "text": "You will miss a deadline. When should you tell the client?"}, {"answer": 2, "explanation": "A full record shows what earns, what you spend, and who still owes you money.", "options": ["Only the jobs that went well", "Only the money you spent", "Date, client, work, price, paid"], "text": "What should you write down for each job?"}, {"answer": 1, "explanation": "Freelance income goes up and down. Savings from busy weeks pay rent and food when work is slow.", "options": ["To buy a new phone quickly", "To get through lean months", "Because clients expect it"], "text": "Why save part of your income in good weeks?"}], "title": "Keep your clients and your money"}','fecccb939264e1ae',1.79658204364005064969e+09);
INSERT INTO "lessons" VALUES('start-freelancing','find-your-skill','fr',0,'{"cards": [{"text": "Un bon métier en freelance, c''est un savoir-faire que les gens paient déjà près de chez vous. Regardez votre quartier : couturiers, réparateurs de téléphones, coiffeuses, livreurs, ceux qui tapent des CV. Partez de ce qui se vend."}, {"text": "Notez trois choses que vous savez bien faire aujourd''hui, pas un jour. Puis demandez-vous : qui en a besoin, à quelle fréquence, et est-ce qu''on paie pour ça ? Réparer un écran, c''est tous les jours ; un portrait peint, beaucoup moins."}, {"text": "Testez avant de dépenser. Faites un ou deux travaux pour un voisin ou un ami, à un prix correct, et observez : est-il revenu ? En a-t-il parlé autour de lui ? Un savoir-faire qui ramène des clients vaut la peine d''être développé."}, {"text": "Pas encore assez bon ? Apprenez en pratiquant. Aidez un couturier ou un réparateur expérimenté quelques semaines, suivez des tutos gratuits sur votre téléphone, entraînez-vous sur de vieux objets. Le client veut voir du vrai travail, pas des diplômes."}, {"text": "Prenez en photo chaque travail terminé : une robe, un téléphone réparé, un logo, une coiffure. Vos photos avant/après sont votre vitrine quand un nouveau client demande : \"Vous savez faire quoi ?\""}], "id": "find-your-skill", "locale": "fr", "questions": [{"answer": 1, "explanation": "Commencez là où l''argent circule déjà. Une demande que vous voyez est plus sûre qu''une demande espérée.", "options": ["Un métier à apprendre plus tard", "Un service payé chaque semaine", "Un métier absent du quartier"], "text": "Quel savoir-faire choisir pour gagner de l''argent vite ?"}, {"answer": 2, "explanation": "De petits travaux réels montrent si les gens paient et reviennent, avant de risquer vos économies.", "options": ["Acheter tout le matériel d''abord", "Imprimer des cartes de visite", "Faire quelques travaux payés"], "text": "Comment tester un savoir-faire avant d''y investir ?"}, {"answer": 0, "explanation": "Le client croit ce qu''il voit. Des photos avant/après sur votre téléphone prouvent vite ce que vous savez faire.", "options": ["Des photos de travaux finis", "La liste de vos diplômes", "Promettre d''être le meilleur"], "text": "Un client veut voir votre travail. Qu''est-ce qui aide le plus ?"}], "title": "Trouver un savoir-faire qui paie"}','1e9bb51f03c48eaf',1.79658204364005064969e+09);
INSERT INTO "lessons" VALUES('start-freelancing','first-clients','fr',1,'{"cards": [{"text": "Vos premiers clients sont souvent des gens qui vous connaissent déjà : famille, voisins, fidèles de l''église ou de la mosquée, anciens camarades. Dites à chacun ce que vous faites et à quel prix, et demandez-lui d''en parler à un ami."}, {"text": "Votre statut WhatsApp est une vitrine gratuite. Publiez chaque jour une photo d''un vrai travail avec une phrase courte : ce que c''est, le prix, comment commander. Soyez régulier : on achète à ceux qu''on voit souvent."}, {"text": "Allez là où sont vos clients. Un réparateur peut s''installer près d''un marché animé, une coiffeuse peut passer dans les bureaux en fin de mois, un comptable peut visiter les boutiques à la fermeture. Ayez votre numéro bien écrit."}, {"text": "Les applis locales de transport, de livraison ou de micro-tâches peuvent donner du travail régulier, mais lisez d''abord les frais et les règles. Méfiez-vous de quiconque demande de l''argent avant tout travail : c''est ainsi que commencent la plupart des arnaques."}, {"text": "Après chaque travail, demandez au client satisfait : \"Vous connaissez quelqu''un qui a besoin de ça ?\" Un client content qui vous envoie deux amis vaut plus que cent inconnus qui ont vu une affiche."}], "id": "first-clients", "locale": "fr", "questions": [{"answer": 1, "explanation": "Montrez un vrai travail, le prix et comment commander. Une citation ou une pub répétée ne dit pas ce que vous vendez.", "options": ["Une citation motivante par jour", "Photo d''une robe, prix, contact", "La même pub envoyée dix fois"], "text": "Quel statut WhatsApp marche le mieux pour un couturier ?"}, {"answer": 0, "explanation": "Les vraies plateformes gagnent sur les missions terminées. Payer avant tout travail, c''est le début de bien des arnaques.", "options": ["Refuser et la signaler", "Payer, le travail va suivre", "Payer la moitié maintenant"], "text": "Une appli demande des frais pour \"débloquer\" des missions. Que faire ?"}, {"answer": 2, "explanation": "Famille, voisins et amis vous font déjà confiance. Dites-leur ce que vous faites et demandez-leur d''en parler.", "options": ["Les grandes entreprises en ligne", "Des inconnus devant une affiche", "Les gens qui vous connaissent"], "text": "Qui vous donne souvent vos tout premiers travaux ?"}], "title": "Trouver vos premiers clients"}','f7e8632643c6672a',1.79658204364005064969e+09);
INSERT INTO "lessons" VALUES('start-freelancing','set-your-price','fr',2,'{"cards": [{"text": "Un bon prix a trois parties : le coût, le temps et la marge. Le coût, c''est ce que vous dépensez : fil, pièces, carburant, crédit internet. Le temps, c''est la valeur de vos heures. La marge permet de grandir et de tenir les jours difficiles."}, {"text": "Exemple : changer l''écran d''un téléphone. L''écran coûte 6 000 FCFA, le transport 1 000. Deux heures de travail à 1 500 l''heure : 3 000. Ajoutez 20 % de marge sur 10 000. Total : 12 000 FCFA."}, {"text": "Ne cassez pas vos prix juste pour décrocher le travail. Trop bas, vous travaillez pour rien, et le client pense que votre travail ne vaut pas cher. Il est plus facile d''accorder une petite remise que d''augmenter un prix plus tard."}, {"text": "Renseignez-vous sur ce que les autres demandent pour le même travail. Pas besoin d''être le moins cher. Dites pourquoi vous valez votre prix : plus rapide, plus soigné, vous vous déplacez, ou vous garantissez le travail une semaine."}, {"text": "Donnez toujours votre prix avant de commencer, jamais après. Si vous n''êtes pas sûr, examinez d''abord le travail, puis annoncez le prix. Si le travail grossit en cours de route, arrêtez-vous et fixez un nouveau prix avant de continuer."}], "id": "set-your-price", "locale": "fr", "questions": [{"answer": 0, "explanation": "Le coût couvre vos dépenses, le temps paie vos heures, la marge fait grandir l''activité et aide les jours creux.", "options": ["Coût, temps, marge", "Coût, transport, remise", "Ce que le client propose"], "text": "Quelles sont les trois parties d''un bon prix ?"}, {"answer": 1, "explanation": "Annoncez le prix d''abord. Un prix donné après le travail mène aux disputes et aux impayés.", "options": ["Une fois le travail fini", "Avant de commencer le travail", "Quand le client veut payer"], "text": "Quand annoncer votre prix au client ?"}, {"answer": 2, "explanation": "2 500 couvre juste le matériel et le temps. 3 000 ajoute 20 % de marge pour les jours creux et les outils.", "options": ["2 000 FCFA", "2 500 FCFA", "3 000 FCFA"], "text": "Matériel : 1 000 FCFA. Votre temps : 1 500. Quel prix laisse une marge ?"}], "title": "Fixer un prix juste"}','8481fbe5c0e9b605',1.79658204364005064969e+09);
INSERT INTO "lessons" VALUES('start-freelancing','agree-the-job','fr',3,'{"cards": [{"text": "La plupart des disputes avec les clients viennent d''un accord flou. Avant de commencer, fixez quatre choses : le travail exact, le prix, l''avance et la date de livraison. Puis écrivez-les dans un seul message."}, {"text": "Soyez précis sur le travail. Pas \"un logo\", mais \"un logo, deux choix de couleurs, deux séries de retouches\". Pas \"réparer le téléphone\", mais \"changer l''écran, batterie non comprise\". Travail en plus, prix en plus."}, {"text": "Demandez une avance avant d''acheter le matériel ou de bloquer votre temps, souvent 30 à 50 %. Un client qui refuse toute avance pour un gros travail est un risque. L''avance montre aussi que le client est sérieux."}, {"text": "Envoyez l''accord par WhatsApp ou SMS et demandez au client de répondre OK. Exemple : \"Deux chemises, votre tissu, 10 000 FCFA, avance de 5 000 aujourd''hui, prêtes vendredi 17 h. Merci de répondre OK pour confirmer.\""}, {"text": "Si le client change ses plans en cours de route, écrivez le nouvel accord de la même façon : ce qui change, le nouveau prix, la nouvelle date. Gardez tous les messages. En cas de litige, ce sont vos preuves."}], "id": "agree-the-job", "locale": "fr", "questions": [{"answer": 1, "explanation": "Un accord clair précise le travail, le prix, l''avance et la date. Sans cela, les disputes arrivent vite.", "options": ["Seulement le prix final", "Travail, prix, avance, délai", "Le prix et votre nom"], "text": "Que doit contenir l''accord écrit ?"}, {"answer": 2, "explanation": "L''avance paie le matériel et montre que le client est sérieux : vous perdez moins s''il disparaît.", "options": ["Elle remplace l''accord écrit", "Pour ne pas fixer de délai", "Elle paie le matériel d''avance"], "text": "Pourquoi demander une avance avant de commencer ?"}, {"answer": 0, "explanation": "Travail en plus, prix en plus. Écrivez le changement dans un message avant de vous y mettre.", "options": ["Fixer d''abord prix et date", "Le faire gratuitement", "Arrêter et garder l''avance"], "text": "En cours de route, le client demande du travail en plus. Que faire ?"}], "title": "Se mettre d''accord clairement"}','b7de3a96bfc0ea98',1.79658204364005064969e+09);
INSERT INTO "lessons" VALUES('start-freelancing','get-paid-safely','fr',4,'{"cards": [{"text": "Le mobile money, comme Orange Money ou Wave, est souvent le moyen le plus sûr d''être payé : pas d''espèces à transporter, et chaque paiement laisse une trace. Donnez votre numéro et le nom enregistré pour que le client vérifie avant d''envoyer."}, {"text": "Les arnaqueurs envoient de faux SMS de paiement qui ressemblent à ceux d''Orange Money ou de Wave. Ne vous fiez jamais à un simple message. Vérifiez votre solde dans le menu officiel ou l''appli avant de remettre le travail."}, {"text": "Arnaque courante : \"J''ai envoyé trop par erreur, renvoyez-moi la différence.\" Souvent, rien n''a été envoyé, ou l''envoi sera annulé. Vérifiez votre solde. Si c''est une vraie erreur, laissez l''opérateur faire l''annulation."}, {"text": "Un vrai client ne vous demande jamais de payer pour obtenir un travail. Des frais d''inscription, de tenue, de formation ou pour \"débloquer\" une mission avant toute paie : c''est un signe d''arnaque. Le client vous paie, pas l''inverse."}, {"text": "Remettez le travail fini quand le solde est payé, ou convenez d''étapes : avance au début, reste à la livraison. En espèces, comptez devant le client. Ne donnez jamais votre code secret ni un code reçu par SMS."}], "id": "get-paid-safely", "locale": "fr", "questions": [{"answer": 1, "explanation": "Un SMS peut être faux. Seul votre solde dans le menu officiel ou l''appli prouve que l''argent est arrivé.", "options": ["Remettre le travail", "Vérifier vous-même le solde", "Demander qu''il transfère le SMS"], "text": "Un client vous montre un SMS disant qu''il a payé. Que faire d''abord ?"}, {"answer": 2, "explanation": "Arnaque courante : souvent rien n''a été envoyé. Vérifiez le solde et laissez l''opérateur annuler les vraies erreurs.", "options": ["Renvoyer les 5 000 tout de suite", "Renvoyer la moitié", "Vérifier solde, voir l''opérateur"], "text": "\"J''ai envoyé trop, renvoyez-moi 5 000.\" Que faire de plus sûr ?"}, {"answer": 0, "explanation": "Un vrai client vous paie. Des frais avant tout travail, pour l''inscription, la tenue ou la formation : arnaque classique.", "options": ["Une arnaque", "Une étape normale d''embauche", "Un signe de sérieux"], "text": "Une \"société\" demande 3 000 FCFA pour vous inscrire à un emploi. C''est sûrement :"}, {"answer": 1, "explanation": "Vos codes et votre code secret sont à vous seul. Un vrai opérateur ne les demande jamais. Les donner, c''est vider votre compte.", "options": ["Le lisez vite", "Ne le donnez jamais", "Le donnez s''il semble officiel"], "text": "Quelqu''un appelle et demande le code que vous venez de recevoir. Vous :"}], "title": "Se faire payer sans risque"}','18d95a0c1642c226',1.79658204364005064969e+09);
INSERT INTO "lessons" VALUES('start-freelancing','keep-clients-and-money','fr',5,'{"cards": [{"text": "Livrez à l''heure, ou prévenez le client avant la date, pas après. Un petit message comme \"Votre robe sera prête samedi, pas vendredi, désolé\" garde la confiance. Le silence fait fuir les clients."}, {"text": "Après la livraison, demandez : \"Vous êtes satisfait ?\" Corrigez vite les petits défauts. Puis demandez un court vocal ou un message à partager, ou un avis sur la plateforme. Les éloges de vrais clients vendent mieux que la pub."}, {"text": "Gardez la liste des numéros de vos clients. Écrivez-leur avant les périodes chargées : rentrée, fêtes, fin du mois. \"Des tenues à ajuster pour la rentrée ? J''ai de la place cette semaine.\" Les anciens clients sont les ventes les plus faciles."}, {"text": "Notez chaque travail dans un cahier ou sur votre téléphone : date, client, travail, prix, payé ou non. Notez aussi vos dépenses. Chaque mois, faites le total. Vous verrez ce qui rapporte vraiment et qui vous doit encore de l''argent."}, {"text": "Séparez l''argent du travail de celui de la maison, par exemple avec un compte mobile money à part. Versez-vous une somme fixe chaque semaine. Si tout est mélangé, l''argent du matériel de la semaine prochaine disparaît sans bruit."}, {"text": "Les revenus en freelance montent et descendent. Les bonnes semaines, mettez une part fixe de côté, par exemple 10 %, dans une épargne à ne pas toucher : compte épargne, banque ou tontine de confiance. Elle vous portera pendant les mois creux."}], "id": "keep-clients-and-money", "locale": "fr", "questions": [{"answer": 0, "explanation": "Prévenir tôt garde la confiance. Un client sans nouvelles imagine le pire et ne revient pas.", "options": ["Avant la date prévue", "Seulement s''il le demande", "Jamais, finissez le travail"], "text": "Vous allez rater un délai. Quand prévenir le client ?"}, {"answer": 2, "explanation": "Un suivi complet montre ce qui rapporte, ce que vous dépensez et qui vous doit encore de l''argent.", "options": ["Seulement les travaux réussis", "Seulement vos dépenses", "Date, client, prix, payé ou non"], "text": "Que noter pour chaque travail ?"}, {"answer": 1, "explanation": "Les revenus en freelance varient. L''épargne des bonnes semaines paie le loyer et la nourriture quand le travail manque.", "options": ["Pour vite changer de téléphone", "Pour tenir les mois creux", "Parce que le client le demande"], "text": "Pourquoi épargner une part les bonnes semaines ?"}], "title": "Garder vos clients et votre argent"}','7f41f0e8e21fdc99',1.79658204364005064969e+09);
CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            carrier_id TEXT NOT NULL,
            phone TEXT NOT NULL,
            body TEXT NOT NULL,
            inbound_id INTEGER REFERENCES inbound(id),
            to_stopped_ok INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN (
                'queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'cancelled')),
            attempts INTEGER NOT NULL DEFAULT 0,
            due_at REAL NOT NULL,
            lease_until REAL,
            carrier_message_id TEXT,
            error TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
INSERT INTO "outbox" VALUES(1,'twilio','+2348030000000','Welcome to Start freelancing: 6 lessons.
Lesson 1/6: Find a skill people pay for
A good freelance skill is one people already pay for near you. Look around your street: who gets paid every week? Tailors, phone repairers, hairdressers, riders, people who type CVs. Start from what you see being bought.
[1/5] Reply NEXT',1,0,'sent',1,1.79658204365221476554e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee00000001',NULL,1.79658204365221476554e+09,1.79658204365259695049e+09);
INSERT INTO "outbox" VALUES(2,'twilio','+2348030000000','List three things you can do well today, not one day. Then ask: who needs this, how often, and do they pay for it? Fixing phone screens is needed every day; painted portraits are needed far less often.
[2/5] Reply NEXT',2,0,'sent',1,1.7965820436535372734e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee00000002',NULL,1.7965820436535372734e+09,1.79658204365384221081e+09);
INSERT INTO "outbox" VALUES(3,'twilio','+2348030000000','Test before you spend. Do one or two jobs for a neighbour or friend at a fair price and watch: did they come back, did they tell others? A skill that brings repeat work is worth building.
[3/5] Reply NEXT',3,0,'sent',1,1.79658204365456247329e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee00000003',NULL,1.79658204365456247329e+09,1.79658204365471720694e+09);
INSERT INTO "outbox" VALUES(4,'twilio','+2348030000000','Not good enough yet? Learn by doing. Help an experienced tailor or repairer for a few weeks, watch free lessons on your phone, practise on old items. Clients want to see real work more than certificates.
[4/5] Reply NEXT',4,0,'sent',1,1.79658204365544605252e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee00000004',NULL,1.79658204365544605252e+09,1.79658204365560054778e+09);
INSERT INTO "outbox" VALUES(5,'twilio','+2348030000000','Take a photo of every job you finish: a dress, a repaired phone, a logo, a braided style. Before and after pictures on your phone are your shop window when a new client asks, "What can you do?"
[5/5] Reply NEXT for the quiz',5,0,'sent',1,1.79658204365637540816e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee00000005',NULL,1.79658204365637540816e+09,1.79658204365653395651e+09);
INSERT INTO "outbox" VALUES(6,'twilio','+2348030000000','Q1/3: Which skill is the best first bet for earning quickly?
A) One you plan to learn later
B) One people near you pay weekly
C) One nobody in your area offers
Reply A-C',6,0,'sent',1,1.79658204365719366074e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee00000006',NULL,1.79658204365719366074e+09,1.79658204365736293792e+09);
INSERT INTO "outbox" VALUES(7,'twilio','+2348030000000','Not quite: it''s B) One people near you pay weekly. Start where money already changes hands. Demand you can see is safer than demand you hope for. You will see this question again.
Q2/3: How can you test a skill before spending money on it?
A) Buy all the equipment first
B) Print business cards
C) Do a few small jobs for pay
Reply A-C',7,0,'sent',1,1.79658204365834617615e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee00000007',NULL,1.79658204365834617615e+09,1.7965820436585228443e+09);
INSERT INTO "outbox" VALUES(8,'twilio','+2348030000000','Not quite: it''s C) Do a few small jobs for pay. Small real jobs show if people pay and come back, before you risk savings on tools or cards. You will see this question again.
Q3/3: A new client asks to see your work. What helps most?
A) Photos of jobs you finished
B) A list of your certificates
C) A promise that you are the best
Reply A-C',8,0,'sent',1,1.79658204365948939327e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee00000008',NULL,1.79658204365948939327e+09,1.79658204365967535975e+09);
INSERT INTO "outbox" VALUES(9,'twilio','+2348030000000','Right! Clients trust what they can see. Before and after photos on your phone prove your skill fast.
Again, Q1/3: Which skill is the best first bet for earning quickly?
A) One you plan to learn later
B) One people near you pay weekly
C) One nobody in your area offers
Reply A-C',9,0,'sent',1,1.7965820436605637073e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee00000009',NULL,1.7965820436605637073e+09,1.79658204366074132924e+09);
INSERT INTO "outbox" VALUES(10,'twilio','+2348030000000','Not quite: it''s B) One people near you pay weekly. Start where money already changes hands. Demand you can see is safer than demand you hope for.
Again, Q2/3: How can you test a skill before spending money on it?
A) Buy all the equipment first
B) Print business cards
C) Do a few small jobs for pay
Reply A-C',10,0,'sent',1,1.79658204366160130505e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee0000000a',NULL,1.79658204366160130505e+09,1.79658204366177129745e+09);
INSERT INTO "outbox" VALUES(11,'twilio','+2348030000000','Not quite: it''s C) Do a few small jobs for pay. Small real jobs show if people pay and come back, before you risk savings on tools or cards.
Lesson done: 1/3 right first time. Reply NEXT for the next lesson: Find your first clients',11,0,'sent',1,1.79658204366257071493e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee0000000b',NULL,1.79658204366257071493e+09,1.79658204366274690624e+09);
INSERT INTO "outbox" VALUES(12,'twilio','+2348030000000','Lesson 2/6: Find your first clients
Your first clients are usually people who already know you: family, neighbours, church or mosque members, old classmates. Tell each one clearly what you do and your price, and ask them to tell one friend.
[1/5] Reply NEXT',12,0,'sent',1,1.79658204366351914411e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee0000000c',NULL,1.79658204366351914411e+09,1.79658204366370081897e+09);
INSERT INTO "outbox" VALUES(13,'twilio','+2348030000000','Your WhatsApp status is a free shop window. Post one photo of real work a day with a short line: what it is, the price, and how to order. Keep it regular; people buy from those they see often.
[2/5] Reply NEXT',13,0,'sent',1,1.79658204366442942612e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee0000000d',NULL,1.79658204366442942612e+09,1.79658204366457796095e+09);
INSERT INTO "outbox" VALUES(14,'twilio','+2348030000000','Go where your clients already are. A phone repairer can sit near a busy market, a hairdresser can visit offices on payday, a bookkeeper can visit shops at closing time. Have your number clearly written.
[3/5] Reply NEXT',14,0,'sent',1,1.7965820436652283668e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee0000000e',NULL,1.7965820436652283668e+09,1.79658204366537475587e+09);
INSERT INTO "outbox" VALUES(15,'twilio','+2348030000000','Local apps for rides, delivery or online tasks can bring steady work, but read the fees and rules first. Be wary of anyone who asks for money before you get any work: that is how most job scams start.
[4/5] Reply NEXT',15,0,'sent',1,1.79658204366602039341e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee0000000f',NULL,1.79658204366602039341e+09,1.79658204366616344456e+09);
INSERT INTO "outbox" VALUES(16,'twilio','+2348030000000','After each job, ask the happy client: "Do you know anyone else who needs this?" One satisfied client who sends you two friends is worth more than a hundred strangers who saw a poster.
[5/5] Reply NEXT for the quiz',16,0,'sent',1,1.79658204366681194304e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee00000010',NULL,1.79658204366681194304e+09,1.7965820436669561863e+09);
INSERT INTO "outbox" VALUES(17,'twilio','+2348030000000','Q1/3: Which WhatsApp status post works best for a tailor?
A) A motivational quote every day
B) Dress photo, price, how to order
C) The same advert sent ten times
Reply A-C',17,0,'sent',1,1.7965820436675796509e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee00000011',NULL,1.7965820436675796509e+09,1.79658204366777801514e+09);
INSERT INTO "outbox" VALUES(18,'twilio','+2348030000000','Not quite: it''s B) Dress photo, price, how to order. Show real work, the price and how to buy. Quotes and repeated adverts do not tell people what you sell. You will see this question again.
Q2/3: An app asks for a fee to ''unlock'' jobs for you. What should you do?
A) Refuse and report it
B) Pay, since jobs will follow
C) Pay half now, half later
Reply A-C',18,0,'sent',1,1.79658204366872572901e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee00000012',NULL,1.79658204366872572901e+09,1.79658204366890597342e+09);
INSERT INTO "outbox" VALUES(19,'twilio','+2348030000000','Right! Real platforms earn from jobs you finish. Paying before any work is how most job scams start.
Q3/3: Who usually gives you your very first jobs?
A) Big companies online
B) Strangers who see a poster
C) People who already know you
Reply A-C',19,0,'sent',1,1.79658204366965699189e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee00000013',NULL,1.79658204366965699189e+09,1.796582043669823885e+09);
INSERT INTO "outbox" VALUES(20,'twilio','+2348030000000','Not quite: it''s C) People who already know you. Family, neighbours and friends already trust you. Tell them what you do and ask them to pass it on. You will see this question again.
Again, Q1/3: Which WhatsApp status post works best for a tailor?
A) A motivational quote every day
B) Dress photo, price, how to order
C) The same advert sent ten times
Reply A-C',20,0,'sent',1,1.79658204367074847223e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee00000014',NULL,1.79658204367074847223e+09,1.79658204367092084888e+09);
INSERT INTO "outbox" VALUES(21,'twilio','+2348030000000','Not quite: it''s B) Dress photo, price, how to order. Show real work, the price and how to buy. Quotes and repeated adverts do not tell people what you sell.
Again, Q3/3: Who usually gives you your very first jobs?
A) Big companies online
B) Strangers who see a poster
C) People who already know you
Reply A-C',21,0,'sent',1,1.79658204367178344728e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee00000015',NULL,1.79658204367178344728e+09,1.79658204367196822166e+09);
INSERT INTO "outbox" VALUES(22,'twilio','+2348030000000','Not quite: it''s C) People who already know you. Family, neighbours and friends already trust you. Tell them what you do and ask them to pass it on.
Lesson done: 1/3 right first time. Reply NEXT for the next lesson: Set a fair price',22,0,'sent',1,1.79658204367271327967e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee00000016',NULL,1.79658204367271327967e+09,1796582043.67289);
INSERT INTO "outbox" VALUES(23,'twilio','+2348030000000','Lesson 3/6: Set a fair price
A good price has three parts: cost, time and margin. Cost is what you spend on the job: thread, parts, fuel, data. Time is what your hours are worth. Margin is extra, so the business can grow and survive bad days.
[1/5] Reply NEXT',23,0,'sent',1,1.79658204367377734179e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee00000017',NULL,1.79658204367377734179e+09,1.79658204367398810388e+09);
INSERT INTO "outbox" VALUES(24,'twilio','+2348030000000','Example: fixing a phone screen. The screen costs 6,000 naira, transport 1,000. It takes 2 hours and your time is worth 1,500 an hour: 3,000. Add a 20% margin on 10,000. Total: 12,000 naira.
[2/5] Reply NEXT',24,0,'sent',1,1.79658204367467284204e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee00000018',NULL,1.79658204367467284204e+09,1.79658204367482781413e+09);
INSERT INTO "outbox" VALUES(25,'twilio','+2348030000000','Do not charge less just to win the job. Very low prices leave you working for nothing, and clients start to think your work is cheap. It is easier to give a small discount than to raise a price later.
[3/5] Reply NEXT',25,0,'sent',1,1.79658204367549180976e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee00000019',NULL,1.79658204367549180976e+09,1.79658204367564368246e+09);
INSERT INTO "outbox" VALUES(26,'twilio','+2348030000000','Ask around what others charge for the same job. You do not have to be the cheapest. Say why you are worth it: faster, neater, you come to the client, or you give a one-week guarantee.
[4/5] Reply NEXT',26,0,'sent',1,1.79658204367635369307e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee0000001a',NULL,1.79658204367635369307e+09,1.79658204367650985722e+09);
INSERT INTO "outbox" VALUES(27,'twilio','+2348030000000','Always give your price before you start, never after. If you are not sure, check the work first, then quote. If the job grows halfway, stop and agree a new price before you do the extra work.
[5/5] Reply NEXT for the quiz',27,0,'sent',1,1.7965820436771585941e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee0000001b',NULL,1.7965820436771585941e+09,1.79658204367731308935e+09);
INSERT INTO "outbox" VALUES(28,'twilio','+2348030000000','Q1/3: What are the three parts of a good price?
A) Cost, time, margin
B) Cost, transport, discount
C) Whatever the client offers
Reply A-C',28,0,'sent',1,1796582043.67788,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee0000001c',NULL,1796582043.67788,1.7965820436780414581e+09);
INSERT INTO "outbox" VALUES(29,'twilio','+2348030000000','Right! Cost covers what you spend, time pays your hours, and margin lets the business grow and survive slow days.
Q2/3: When should you tell the client your price?
A) After the work is done
B) Before you start the job
C) When the client wants to pay
Reply A-C',29,0,'sent',1,1.7965820436788144112e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee0000001d',NULL,1.7965820436788144112e+09,1.79658204367898941041e+09);
INSERT INTO "outbox" VALUES(30,'twilio','+2348030000000','Not quite: it''s B) Before you start the job. Quote first. A price given after the work leads to arguments and unpaid jobs. You will see this question again.
Q3/3: Materials cost 1,000 and your time is worth 1,500. Which price leaves a margin?
A) 2,000
B) 2,500
C) 3,000
Reply A-C',30,0,'sent',1,1.79658204367981243132e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee0000001e',NULL,1.79658204367981243132e+09,1.79658204367999863623e+09);
INSERT INTO "outbox" VALUES(31,'twilio','+2348030000000','Not quite: it''s C) 3,000. 2,500 only covers cost and time. 3,000 adds a 20% margin for slow days and new tools. You will see this question again.
Again, Q2/3: When should you tell the client your price?
A) After the work is done
B) Before you start the job
C) When the client wants to pay
Reply A-C',31,0,'sent',1,1.79658204368080639838e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee0000001f',NULL,1.79658204368080639838e+09,1.79658204368097543712e+09);
INSERT INTO "outbox" VALUES(32,'twilio','+2348030000000','Not quite: it''s B) Before you start the job. Quote first. A price given after the work leads to arguments and unpaid jobs.
Again, Q3/3: Materials cost 1,000 and your time is worth 1,500. Which price leaves a margin?
A) 2,000
B) 2,500
C) 3,000
Reply A-C',32,0,'sent',1,1.79658204368170595173e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee00000020',NULL,1.79658204368170595173e+09,1796582043.68187);
INSERT INTO "outbox" VALUES(33,'twilio','+2348030000000','Not quite: it''s C) 3,000. 2,500 only covers cost and time. 3,000 adds a 20% margin for slow days and new tools.
Lesson done: 1/3 right first time. Reply NEXT for the next lesson: Agree the job clearly',33,0,'sent',1,1.79658204368256425855e+09,NULL,'SMeeeeeeeeeeeeeeeeeeeeeeee00000021',NULL,1.79658204368256425855e+09,1.79658204368273186684e+09);
INSERT INTO "outbox" VALUES(34,'twilio','+2348030000000','Lesson 4/6: Agree the job clearly
Most fights with clients start with a vague deal. Before you begin, agree four things: exactly what you will do, the price, the deposit, and the delivery date. Then write them in one message.
[1/5] Reply NEXT',34,0,'queued',0,1.79658204368344664569e+09,NULL,NULL,NULL,1.79658204368344664569e+09,1.79658204368344664569e+09);
INSERT INTO "outbox" VALUES(35,'twilio','+2348030000000','Be precise about the work. Not "a logo" but "one logo, two colour options, two rounds of changes". Not "fix the phone" but "replace the screen, battery not included". Extra work means an extra price.
[2/5] Reply NEXT',35,0,'queued',0,1.79658204368415760996e+09,NULL,NULL,NULL,1.79658204368415760996e+09,1.79658204368415760996e+09);
CREATE TABLE send_attempts (
            id INTEGER PRIMARY KEY,
            outbox_id INTEGER NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
            at REAL NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'retry', 'failed', 'cancelled')),
            detail TEXT
        );
INSERT INTO "send_attempts" VALUES(1,1,1.79658204365259695049e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(2,2,1.79658204365384221081e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(3,3,1.79658204365471720694e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(4,4,1.79658204365560054778e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(5,5,1.79658204365653395651e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(6,6,1.79658204365736293792e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(7,7,1.7965820436585228443e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(8,8,1.79658204365967535975e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(9,9,1.79658204366074132924e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(10,10,1.79658204366177129745e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(11,11,1.79658204366274690624e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(12,12,1.79658204366370081897e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(13,13,1.79658204366457796095e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(14,14,1.79658204366537475587e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(15,15,1.79658204366616344456e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(16,16,1.7965820436669561863e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(17,17,1.79658204366777801514e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(18,18,1.79658204366890597342e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(19,19,1.796582043669823885e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(20,20,1.79658204367092084888e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(21,21,1.79658204367196822166e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(22,22,1796582043.67289,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(23,23,1.79658204367398810388e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(24,24,1.79658204367482781413e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(25,25,1.79658204367564368246e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(26,26,1.79658204367650985722e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(27,27,1.79658204367731308935e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(28,28,1.7965820436780414581e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(29,29,1.79658204367898941041e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(30,30,1.79658204367999863623e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(31,31,1.79658204368097543712e+09,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(32,32,1796582043.68187,'accepted',NULL);
INSERT INTO "send_attempts" VALUES(33,33,1.79658204368273186684e+09,'accepted',NULL);
CREATE TABLE status_events (
            id INTEGER PRIMARY KEY,
            carrier_id TEXT NOT NULL,
            carrier_message_id TEXT NOT NULL,
            outbox_id INTEGER REFERENCES outbox(id) ON DELETE SET NULL,
            status TEXT NOT NULL,
            error_code TEXT,
            at REAL NOT NULL
        );
CREATE UNIQUE INDEX "idx__sqlite_migrations_migration_set_name"
    ON "_sqlite_migrations" ("migration_set", "name");
CREATE INDEX answers_by_learner ON answers (phone, course_id, lesson_id);
CREATE INDEX inbound_pending ON inbound (status, received_at);
CREATE INDEX outbox_due ON outbox (carrier_id, status, due_at);
CREATE INDEX outbox_by_carrier_id ON outbox (carrier_id, carrier_message_id);
CREATE INDEX send_attempts_by_message ON send_attempts (outbox_id);
COMMIT;
